/**
 * gpk-scarcity: gpk plus learned prices of GPU-share sizes (share-value.ts, docs/placement.md).
 *
 * Every pod that is not a GPU share is placed exactly as gpk places it (FGD's band of
 * fragmentation plus CPU stranding, health and topology). A shared pod goes where it destroys
 * the least packing value, `ShareValue.loss` on the GPU it would get, and gpk's score breaks
 * ties between nodes. The prices come from `learn`, which the caller feeds the arrivals seen so
 * far, off the request path (the simulator at geometric intervals, the extender on its refresh
 * timer). Until something is learned the policy is gpk.
 *
 * Why it helps: at the end of every openb run all idle GPU sits in gaps beside shared pods. FGD
 * and gpk see a gap as fragmentation against the popular shapes; the prices also see which
 * share sizes are common and which pair with what, so a 0.32 pod goes next to a 0.65 one (gap
 * 0.03) rather than next to a 0.47 one (gap 0.21), and a small pod fills the gap a 0.81 pod
 * leaves rather than opening a GPU.
 */
import { deviceAccepted } from "../feasibility";
import type { PlacementPolicy, PolicyContext } from "../policy";
import { ShareValue } from "../share-value";
import { MILLI, isSharePod, type NodeState, type PodRequest } from "../types";
import { DEFAULT_HOT_TEMPERATURE_C, HOT_PENALTY, gpkPolicy, gpuIsUnhealthy } from "./gpk";

/** Loss resolution: losses are compared in millionths of a GPU. */
const LOSS_UNITS = 1e6;
/** gpk's scores lie in 0..100; a loss step must outweigh any of them. */
const GPK_SCORE_SPAN = 1000;

export interface ScarcityPolicy extends PlacementPolicy {
  readonly shareValue: ShareValue;
}

export function scarcityPolicy(ctx: PolicyContext): ScarcityPolicy {
  const hotC = ctx.hotTemperatureC ?? DEFAULT_HOT_TEMPERATURE_C;
  const gpk = gpkPolicy(ctx);
  const shareValue = new ShareValue();
  let epoch = 0;
  const usesPrices = (pod: PodRequest) => isSharePod(pod) && pod.migProfile === undefined && shareValue.learnedPods > 0;

  /** The shared GPU with the least loss (healthy first, then the fullest, then the lowest index) and that loss. */
  const bestShare = (node: NodeState, pod: PodRequest): { gpu: number; loss: number } => {
    let gpu = -1;
    let best = Infinity;
    let bestLeft = Infinity;
    for (let i = 0; i < node.gpus.length; i++) {
      const g = node.gpus[i]!;
      const left = MILLI - g.usedMilli;
      if (left < pod.gpuMilli || !deviceAccepted(pod, g)) continue;
      const loss = shareValue.loss(left, pod.gpuMilli) + (gpuIsUnhealthy(g, hotC) ? HOT_PENALTY / MILLI : 0);
      if (loss < best || (loss === best && left < bestLeft)) {
        gpu = i;
        best = loss;
        bestLeft = left;
      }
    }
    return { gpu, loss: best };
  };

  return {
    name: "gpk-scarcity",
    shareValue,
    get epoch() {
      return epoch;
    },
    learn(pods) {
      shareValue.learn(pods);
      epoch++;
    },
    score(node, pod) {
      const base = gpk.score(node, pod);
      if (!usesPrices(pod)) return base;
      return -Math.round(bestShare(node, pod).loss * LOSS_UNITS) * GPK_SCORE_SPAN + base;
    },
    chooseGpus(node, pod) {
      if (!usesPrices(pod)) return gpk.chooseGpus(node, pod);
      const { gpu } = bestShare(node, pod);
      return gpu < 0 ? [] : [gpu];
    },
  };
}
