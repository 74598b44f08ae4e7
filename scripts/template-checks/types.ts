/** What every check of the packaged template reports. */

export type Json = any;

/** Which check found it. */
export type Tool = 'cfn-validate' | 'guard' | 'cdk-nag' | 'project';

export interface Finding {
  tool: Tool;
  /** The rule: `W3005`, `gm_alarms_notify`, `AwsSolutions-SQS3`, `project/alarm-math`, ... */
  id: string;
  /** Logical id of the resource (or parameter, output, condition) it is about, when there is one. */
  resource?: string;
  message: string;
}

export const describeFinding = (f: Finding) => `[${f.tool}] ${f.id}${f.resource ? ` ${f.resource}` : ''}: ${f.message}`;
