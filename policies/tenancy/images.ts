/** Images come from the registries the platform trusts, and only those. */
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { configSchema, readConfig } from "../lib/config";
import { containersOf, formatPath, podSpecs } from "../lib/k8s";

/**
 * The fully qualified form of an image reference, as the container runtime resolves it:
 * `node:20` is `docker.io/library/node:20`, `vllm/vllm-openai` is `docker.io/vllm/vllm-openai`.
 */
export function qualifyImage(image: string): string {
  const first = image.split("/")[0];
  const hasHost = image.includes("/") && (first.includes(".") || first.includes(":") || first === "localhost");
  if (hasHost) return image;
  return image.includes("/") ? `docker.io/${image}` : `docker.io/library/${image}`;
}

export const allowedImageRegistries: ResourceValidationPolicy = {
  name: "allowed-image-registries",
  description: "Checks whether every container image comes from one of the `allowedRegistries` prefixes.",
  enforcementLevel: "mandatory",
  configSchema: configSchema("allowedRegistries"),
  validateResource: (args, reportViolation) => {
    const { allowedRegistries } = readConfig(args, "allowedRegistries");
    for (const pod of podSpecs(args.type, args.props)) {
      for (const { container, list, index } of containersOf(pod.spec)) {
        if (typeof container.image !== "string") continue;
        const full = qualifyImage(container.image);
        if (!allowedRegistries.some((prefix) => full.startsWith(prefix))) {
          reportViolation(
            `Container "${container.name ?? index}" (${formatPath([...pod.path, list, index])}) uses image "${container.image}" (${full}), ` +
              `which is outside the allowed registries (${allowedRegistries.join(", ")}); mirror it into one or extend \`allowedRegistries\`.`,
          );
        }
      }
    }
  },
};

export const imagePolicies = [allowedImageRegistries];
