/** What rendering a stack under Pulumi's mock runtime yields (used by preview and check). */

export interface RenderedResource {
  urn: string;
  /** Pulumi type token, e.g. `kubernetes:apps/v1:Deployment` or `gpk:index:Tenant`. */
  type: string;
  name: string;
  /** URN of the parent resource; absent for the stack's direct children. */
  parent?: string;
  /** True for custom (provider) resources, false for component resources. */
  custom: boolean;
  /**
   * For custom resources the inputs the program passed (what the engine sends to policy
   * `Analyze`); for components the outputs they registered (what stack policies see).
   */
  inputs: Record<string, unknown>;
}

export interface SchemaError {
  urn: string;
  /** JSON path inside the object, e.g. `spec.template.spec.containers[0].image`. */
  path: string;
  message: string;
}

export interface RenderedStack {
  stack: string;
  /** The stack's parsed and validated config (stacks/config.ts `StackConfig`). */
  config: unknown;
  resources: RenderedResource[];
  /** Stack outputs the program exported. */
  outputs: Record<string, unknown>;
}
