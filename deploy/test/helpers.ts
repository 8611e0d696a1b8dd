import * as fs from 'node:fs';
import * as path from 'node:path';
import * as cdk from 'aws-cdk-lib';
import assert from 'node:assert/strict';
import { Template } from 'aws-cdk-lib/assertions';
import { ConfigError, loadConfig } from '../lib/config';
import { LambdaMigrateStack } from '../lib/stack';

/** deploy/, whether this file runs from deploy/test or deploy/dist/test. */
export const DEPLOY_DIR = (() => {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'cdk.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('cdk.json not found above ' + __dirname);
    dir = up;
  }
  return dir;
})();

/** A folder with a stand-in `bootstrap`, so synthesis needs no Rust build. */
export const PLACEHOLDER = path.join(DEPLOY_DIR, 'test', 'placeholder-lambda');

/** The feature flags real deploys get from cdk.json, so tests see the same behaviour. */
const FLAGS: Record<string, unknown> = JSON.parse(fs.readFileSync(path.join(DEPLOY_DIR, 'cdk.json'), 'utf8')).context;

/** A complete, valid context: CodeCommit source, Secrets Manager password. */
export const BASE_CONTEXT: Readonly<Record<string, unknown>> = {
  repositoryName: 'app-schema',
  branch: 'main',
  vpcId: 'vpc-0123456789abcdef0',
  subnetIds: 'subnet-0aaaaaaaaaaaaaaa1,subnet-0bbbbbbbbbbbbbbb2',
  securityGroupId: 'sg-0ccccccccccccccc3',
  dbHost: 'db.internal.example.com',
  dbName: 'app',
  dbUser: 'migrator',
  dbSecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:app-db-AbCdEf',
  triggerCode: PLACEHOLDER,
  migratorCode: PLACEHOLDER,
};

/** Loads a config from BASE_CONTEXT plus overrides (`undefined` removes a key). */
export function load(overrides: Record<string, unknown> = {}) {
  const ctx: Record<string, unknown> = { ...BASE_CONTEXT };
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined) delete ctx[k];
    else ctx[k] = v;
  }
  return loadConfig((k) => ctx[k], Object.keys(ctx));
}

/** The problems a bad context is rejected with; fails the test when it is accepted. */
export function problems(overrides: Record<string, unknown>): string[] {
  try {
    load(overrides);
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${e}`);
    return [...e.problems];
  }
  assert.fail(`context ${JSON.stringify(overrides)} was accepted`);
}

/** The account and region every test stack is pinned to. */
export const ENV = { account: '123456789012', region: 'eu-west-1' };

/** Synthesizes the stack from BASE_CONTEXT plus overrides (a value of `undefined` removes a key), after an optional change. */
export function synth(
  overrides: Record<string, unknown> = {},
  mutate?: (stack: LambdaMigrateStack) => void,
): { stack: LambdaMigrateStack; template: Template } {
  const ctx: Record<string, unknown> = { ...BASE_CONTEXT };
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined) delete ctx[k];
    else ctx[k] = v;
  }
  const app = new cdk.App({ context: { ...FLAGS, ...ctx } });
  const config = loadConfig((k) => app.node.tryGetContext(k), Object.keys(ctx));
  const stack = new LambdaMigrateStack(app, 'TestStack', { config, env: ENV });
  // Changes must come before the first synthesis: the app caches its assembly.
  mutate?.(stack);
  return { stack, template: Template.fromStack(stack) };
}

/** An IAM statement as it appears in the synthesized template. */
export interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: unknown;
}

/** Every IAM policy statement in the template, with the logical id of the policy holding it. */
export function statements(template: Template): { policy: string; roles: unknown[]; statement: Statement }[] {
  const out: { policy: string; roles: unknown[]; statement: Statement }[] = [];
  for (const [id, res] of Object.entries(template.findResources('AWS::IAM::Policy'))) {
    for (const st of res.Properties.PolicyDocument.Statement as Statement[]) {
      out.push({ policy: id, roles: res.Properties.Roles ?? [], statement: st });
    }
  }
  for (const [id, res] of Object.entries(template.findResources('AWS::IAM::Role'))) {
    for (const p of (res.Properties.Policies ?? []) as { PolicyDocument: { Statement: Statement[] } }[]) {
      for (const st of p.PolicyDocument.Statement) out.push({ policy: id, roles: [{ Ref: id }], statement: st });
    }
  }
  for (const [id, res] of Object.entries(template.findResources('AWS::IAM::ManagedPolicy'))) {
    for (const st of res.Properties.PolicyDocument.Statement as Statement[]) {
      out.push({ policy: id, roles: res.Properties.Roles ?? [], statement: st });
    }
  }
  return out;
}

/** A value that may be one item or a list, as a list. */
export function asList<T>(v: T | T[] | undefined): T[] {
  if (v === undefined) return [];
  return Array.isArray(v) ? v : [v];
}

/** The logical id of the only resource of a type whose properties match a predicate. */
export function logicalId(template: Template, type: string, pred: (props: Record<string, unknown>) => boolean): string {
  const ids = Object.entries(template.findResources(type))
    .filter(([, r]) => pred(r.Properties ?? {}))
    .map(([id]) => id);
  if (ids.length !== 1) throw new Error(`expected one ${type}, found ${ids.length}: ${ids.join(', ')}`);
  return ids[0];
}

/**
 * Actions that IAM cannot scope to a resource, so "*" is the only valid Resource for them:
 * CodePipeline job results, ListFunctions (added by CDK for the pipeline's console view),
 * EC2 Describe calls, and the CloudWatch Logs delivery calls Step Functions makes to log a
 * state machine (added by CDK with the fleet state machine's logging).
 */
export const UNSCOPABLE = new Set([
  'codepipeline:PutJobSuccessResult',
  'codepipeline:PutJobFailureResult',
  'lambda:ListFunctions',
  'ec2:DescribeNetworkInterfaces',
  'ec2:DescribeSubnets',
  'logs:CreateLogDelivery',
  'logs:GetLogDelivery',
  'logs:UpdateLogDelivery',
  'logs:DeleteLogDelivery',
  'logs:ListLogDeliveries',
  'logs:PutResourcePolicy',
  'logs:DescribeResourcePolicies',
  'logs:DescribeLogGroups',
]);

/** Every IAM grant that is broader than it has to be: a global/service wildcard action, or "*" on a scopable action. */
export function overbroad(template: Template): string[] {
  const out: string[] = [];
  for (const { policy, statement } of statements(template)) {
    if (statement.Effect !== 'Allow') continue;
    const actions = asList(statement.Action);
    // CDK's grants use prefixes such as s3:GetObject*; a whole-service or global wildcard is never needed.
    for (const a of actions) if (a === '*' || a.endsWith(':*')) out.push(`${policy}: wildcard action ${a}`);
    if (asList(statement.Resource as unknown[]).includes('*')) {
      for (const a of actions) {
        if (!UNSCOPABLE.has(a)) out.push(`${policy}: ${a} supports resource scoping but has Resource "*"`);
      }
    }
  }
  return out;
}
