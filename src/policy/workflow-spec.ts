/** A workflow as the policy engine hands it out: defaults filled in (see normalizePolicy). */
export interface WorkflowStepSpec {
  readonly group: string;
  readonly k: number;
  readonly excludeInitiator: boolean;
  readonly distinctFromEarlierSteps: boolean;
}

export interface WorkflowSpec {
  readonly steps: readonly WorkflowStepSpec[];
  readonly expiresInSeconds: number;
  readonly timeLock?: { readonly seconds: number; readonly vetoGroup: string };
}
