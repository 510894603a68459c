/**
 * Request bodies of /v1/completions and /v1/chat/completions, validated with zod. A failure
 * becomes a 400 whose `param` names the first offending field (`messages[0].content`).
 * Unknown fields are ignored, as vLLM and OpenAI do. Sampling knobs (temperature, top_p, seed)
 * are validated and accepted; the simulated model's output does not depend on them.
 */
// Named imports, not the \`z\` namespace: the namespace drags every locale into the runtime bundle (450 KB vs 60 KB).
import { array, boolean, literal, number, object, string, union, enum as oneOf, null as isNull, type infer as Infer, type ZodType } from "zod";
import { badRequest, type ApiError } from "./errors";

const nullish = <T extends ZodType>(t: T) => t.nullish();
const streamOptions = object({ include_usage: nullish(boolean()), continuous_usage_stats: nullish(boolean()) });
const stop = union([string(), array(string()).max(4)], { error: "expected a string or an array of at most 4 strings" });

const sampling = {
  model: string(),
  max_tokens: nullish(number().int().min(1)),
  temperature: nullish(number().min(0).max(2)),
  top_p: nullish(number().gt(0).max(1)),
  n: nullish(literal(1, { error: "only n=1 is supported" })),
  seed: nullish(number().int()),
  stream: nullish(boolean()),
  stream_options: nullish(streamOptions),
  stop: nullish(stop),
  ignore_eos: nullish(boolean()),
  user: nullish(string()),
};

const tokenIds = array(number().int().min(0)).min(1);
export const completionRequest = object({
  ...sampling,
  prompt: union([
    string().min(1),
    array(string().min(1)).length(1, { error: "only one prompt per request is supported" }),
    tokenIds,
    array(tokenIds).length(1, { error: "only one prompt per request is supported" }),
  ], { error: "expected a non-empty string, an array with one string, an array of token ids, or an array with one array of token ids" }),
});
export type CompletionRequest = Infer<typeof completionRequest>;

const textPart = object({ type: literal("text"), text: string() });
export const chatRequest = object({
  ...sampling,
  max_completion_tokens: nullish(number().int().min(1)),
  messages: array(
      object({
        role: oneOf(["system", "developer", "user", "assistant", "tool"]),
        content: union([string(), array(textPart), isNull()], { error: "expected a string or an array of text parts" }),
        name: string().optional(),
      }),
    ).min(1),
});
export type ChatRequest = Infer<typeof chatRequest>;

/** `messages[0].content` style path, the way OpenAI names params. */
function paramOf(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join("");
}

export function parseBody<T extends ZodType>(schema: T, raw: string): { ok: true; value: Infer<T> } | { ok: false; error: ApiError } {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (err) {
    return { ok: false, error: badRequest(`Invalid JSON body: ${(err as Error).message}`) };
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    return { ok: false, error: badRequest("The request body must be a JSON object.") };
  }
  const parsed = schema.safeParse(json);
  if (parsed.success) {
    const value = parsed.data as { stream?: boolean | null; stream_options?: unknown };
    if (value.stream_options != null && value.stream !== true) {
      return { ok: false, error: badRequest("Stream options can only be defined when `stream=True`.", "stream_options") };
    }
    return { ok: true, value: parsed.data };
  }
  const issue = parsed.error.issues[0]!;
  const param = paramOf(issue.path);
  return { ok: false, error: badRequest(`Invalid value for \`${param}\`: ${issue.message}`, param) };
}
