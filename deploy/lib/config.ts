import * as path from 'node:path';

import { DEFAULTS } from './defaults';

/** Where the pipeline's source comes from. */
export type SourceConfig =
  | {
      /** An AWS CodeCommit repository in the stack's account and region. */
      readonly kind: 'codecommit';
      /** The repository's name. */
      readonly repositoryName: string;
      /** The branch whose pushes start the pipeline. */
      readonly branch: string;
    }
  | {
      /** A CodeStar/CodeConnections connection to GitHub, GitHub Enterprise, Bitbucket or GitLab. */
      readonly kind: 'connection';
      /** The connection's ARN (it must be in the AVAILABLE state before the pipeline runs). */
      readonly connectionArn: string;
      /** The repository's owner (user or organisation). */
      readonly owner: string;
      /** The repository's name. */
      readonly repo: string;
      /** The branch whose pushes start the pipeline. */
      readonly branch: string;
    };

/** How the migrator authenticates to the database. */
export type DbAuthConfig =
  | {
      /** A password in Secrets Manager that the migrator reads at run time (GetSecretValue). */
      readonly kind: 'secret';
      /** The secret's full ARN (with its six-character suffix), so IAM can be scoped to it. */
      readonly secretArn: string;
      /** The JSON key holding the password; empty for a plain-text secret. */
      readonly jsonField: string;
      /** Whether the stack creates a Secrets Manager interface endpoint in the migrator's subnets. */
      readonly createEndpoint: boolean;
      /** The customer-managed KMS key encrypting the secret, when it is not the AWS managed key. */
      readonly kmsKeyArn?: string;
    }
  | {
      /** RDS IAM database authentication: a short-lived token instead of a password. */
      readonly kind: 'iam';
      /** The DB instance's DbiResourceId (`db-...`) or Aurora cluster's resource id (`cluster-...`). */
      readonly resourceId: string;
    };

/** Everything the stack needs, validated. */
export interface DeployConfig {
  /** The CloudFormation stack's name. */
  readonly stackName: string;
  /** The pipeline's source. */
  readonly source: SourceConfig;
  /** The VPC the migrator runs in. */
  readonly vpcId: string;
  /** Private subnets for the migrator's network interfaces. */
  readonly subnetIds: readonly string[];
  /** The security group the migrator uses; it must allow egress to the database and to S3. */
  readonly securityGroupId: string;
  /** Whether the stack creates an S3 gateway endpoint in the VPC. */
  readonly createS3Endpoint: boolean;
  /** Route tables of the migrator's subnets; the gateway endpoint adds its S3 route to these. */
  readonly routeTableIds: readonly string[];
  /** Database host name. */
  readonly dbHost: string;
  /** Database TCP port. */
  readonly dbPort: number;
  /** Database (schema) name. */
  readonly dbName: string;
  /** Database user the migrator connects as. */
  readonly dbUser: string;
  /** How the migrator authenticates. */
  readonly dbAuth: DbAuthConfig;
  /** DB_TLS for the migrator, or undefined to leave the binary's default. */
  readonly dbTls?: string;
  /** DB_CA_BUNDLE for the migrator, or undefined. */
  readonly dbCaBundle?: string;
  /** An optional Lambda layer (for example one holding the RDS CA bundle under /opt). */
  readonly caBundleLayerArn?: string;
  /** MIGRATIONS_DIR: the migrations' folder inside the source artifact. */
  readonly migrationsDir: string;
  /** MIGRATIONS_TABLE: sql-migrate's bookkeeping table. */
  readonly migrationsTable: string;
  /** LOCK_TIMEOUT_SECS: how long the migrator waits for the migration lock. */
  readonly lockTimeoutSecs: number;
  /** LOCK_WAIT_TIMEOUT_SECS: every session's lock_wait_timeout (metadata-lock waits). */
  readonly lockWaitTimeoutSecs: number;
  /** LOCK_WAIT_RETRIES: how often a DDL statement that timed out waiting is sent again. */
  readonly lockWaitRetries: number;
  /** DEADLINE_MARGIN_SECS: no migration starts with less time left; unset = the migrator's default. */
  readonly deadlineMarginSecs?: number;
  /** KILL_MARGIN_SECS: a statement still running with this left is killed; unset = the migrator's default. */
  readonly killMarginSecs?: number;
  /** The migrator's Lambda timeout in seconds. */
  readonly migratorTimeoutSecs: number;
  /** The trigger's Lambda timeout in seconds; always greater than the migrator's. */
  readonly triggerTimeoutSecs: number;
  /** The migrator's memory in MiB. */
  readonly migratorMemoryMb: number;
  /** CPU architecture of both functions. */
  readonly architecture: 'x86_64' | 'arm64';
  /** Path to the trigger's code: a bootstrap.zip or a folder holding `bootstrap`. */
  readonly triggerCode: string;
  /** Path to the migrator's code: a bootstrap.zip or a folder holding `bootstrap`. */
  readonly migratorCode: string;
  /** CloudWatch Logs retention for both functions, in days. */
  readonly logRetentionDays: number;
  /** Encryption of the pipeline's artifact bucket. */
  readonly artifactEncryption: 's3' | 'kms';
  /** LINT_FAIL_ON for the trigger: the severity from which lint findings fail the job before the migrator runs. */
  readonly lintFailOn: 'error' | 'warning' | 'never';
  /** FETCH_MODE for the migrator (full, selective or auto), or undefined for the binary's default. */
  readonly fetchMode?: 'full' | 'selective' | 'auto';
  /** Whether the migrator reads the artifact from S3 itself (then it gets s3:GetObject on it). */
  readonly migratorFetchesArtifact: boolean;
  /** The pipeline's name, or undefined to let CloudFormation name it. */
  readonly pipelineName?: string;
  /**
   * How the migrator's role gets the network-interface permissions Lambda needs in a VPC:
   * `scoped` (inline, limited to the given subnets and security group) or `managed`
   * (AWS's AWSLambdaVPCAccessExecutionRole, broader, for accounts where the scoped form is refused).
   */
  readonly vpcAccessPolicy: 'scoped' | 'managed';
  /** ALLOWED_COMMANDS for the migrator: the commands it runs, lowercase, without duplicates. */
  readonly migratorCommands: readonly MigratorCommand[];
  /** Whether the pipeline runs `plan` and waits for a manual approval before migrating. */
  readonly reviewedPipeline: boolean;
  /** An SNS topic the approval action notifies, when reviewedPipeline=true. */
  readonly approvalTopicArn?: string;
  /** The migrator's reserved concurrency, or undefined for none. */
  readonly migratorReservedConcurrency?: number;
  /** Where alarms and pipeline-failure notifications go: an existing topic, a new one, or nowhere. */
  readonly alarmTopic: { readonly kind: 'none' } | { readonly kind: 'create' } | { readonly kind: 'existing'; readonly arn: string };
  /** The fleet state machine's settings, when `fleet=true` (one artifact, many databases). */
  readonly fleet?: FleetConfig;
}

/** A fleet run on Step Functions (issue 21): a canary, then a Distributed Map over the other targets. */
export interface FleetConfig {
  /** The Distributed Map's MaxConcurrency: targets migrated at once. */
  readonly maxConcurrency: number;
  /** The failure budget in percent: the Map's ToleratedFailurePercentage, and what the summary judges by. */
  readonly toleratedFailurePercentage: number;
  /** How many targets run first, one at a time, when the manifest has no `canary` group (FLEET_CANARY). */
  readonly canary: number;
  /** How often one target's invocation is repeated while the migrator stops at its deadline with work left. */
  readonly maxFollowUps: number;
  /** The Secrets Manager ARN prefix a target's `secret` must start with (FLEET_SECRET_PREFIX); none: no `secret` target. */
  readonly secretPrefix?: string;
  /** The artifact bucket's key prefix for the runs' items and results (FLEET_RESULTS_PREFIX). */
  readonly resultsPrefix: string;
  /** Whether the stack creates the Secrets Manager endpoint for the targets' secrets (with secretPrefix). */
  readonly createSecretsEndpoint: boolean;
  /**
   * The manifest's key in the artifact bucket, under resultsPrefix: when set, the stack's own
   * `Migrate` action names it in its UserParameters, so every pipeline execution is a fleet run.
   */
  readonly manifest?: string;
}

/** The fleet settings' defaults. */
export const FLEET_DEFAULTS = {
  maxConcurrency: 10,
  toleratedFailurePercentage: 0,
  canary: 1,
  maxFollowUps: 10,
  resultsPrefix: 'fleet/',
} as const;

/** The fleet state machine's name: the stack's, then this; the trigger's IAM names it before it exists. */
export const FLEET_STATE_MACHINE_SUFFIX = '-fleet';

/**
 * Every command the migrator knows, then the permissions to run SQL sent inline (a laptop's
 * `--via-lambda` with a local folder) with the commands that run SQL: that SQL skipped the
 * pipeline's review, so `up` alone runs only the artifact in S3. `migratorCommands` picks a
 * subset of these (the migrator's `Allowed` in engine/src/command/request.rs knows the same words).
 */
export const MIGRATOR_COMMANDS = [
  'verify',
  'plan',
  'status',
  'up',
  'down',
  'redo',
  'skip',
  'resolve',
  'up-inline',
  'down-inline',
  'redo-inline',
] as const;

/** One of the migrator's commands, or an `-inline` permission. */
export type MigratorCommand = (typeof MIGRATOR_COMMANDS)[number];

/**
 * The commands the migrator runs unless told otherwise: the read-only ones, `up` of the
 * pipeline's artifact (resume included) and `resolve`; nothing that reverts, skips, or runs
 * SQL sent inline.
 */
export const DEFAULT_MIGRATOR_COMMANDS: readonly MigratorCommand[] = DEFAULTS.migratorCommands.split(',') as MigratorCommand[];

/** Raised when context values are missing or invalid; lists every problem at once. */
export class ConfigError extends Error {
  /** One message per problem, each naming its context key. */
  readonly problems: readonly string[];

  /** Builds the error from its problem list. */
  constructor(problems: readonly string[]) {
    super(`invalid deploy context (pass values with -c KEY=VALUE or in cdk.json):\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** Reads one context value; `undefined` when absent. */
export type ContextReader = (key: string) => unknown;

/** Every context key the stack reads, so a misspelt key can be reported instead of ignored. */
export const CONTEXT_KEYS = [
  'stackName',
  'repositoryName',
  'connectionArn',
  'repository',
  'branch',
  'vpcId',
  'subnetIds',
  'securityGroupId',
  'createS3Endpoint',
  'routeTableIds',
  'dbHost',
  'dbPort',
  'dbName',
  'dbUser',
  'dbSecretArn',
  'dbSecretField',
  'dbSecretKmsKeyArn',
  'createSecretsManagerEndpoint',
  'dbPassword',
  'dbIamAuth',
  'dbInstanceResourceId',
  'dbTls',
  'dbCaBundle',
  'caBundleLayerArn',
  'migrationsDir',
  'migrationsTable',
  'lockTimeoutSecs',
  'lockWaitTimeoutSecs',
  'lockWaitRetries',
  'deadlineMarginSecs',
  'killMarginSecs',
  'migratorTimeoutSecs',
  'triggerTimeoutSecs',
  'migratorMemoryMb',
  'architecture',
  'triggerCode',
  'migratorCode',
  'logRetentionDays',
  'artifactEncryption',
  'migratorFetchesArtifact',
  'fetchMode',
  'lintFailOn',
  'pipelineName',
  'vpcAccessPolicy',
  'migratorCommands',
  'reviewedPipeline',
  'approvalTopicArn',
  'migratorReservedConcurrency',
  'alarmTopicArn',
  'createAlarmTopic',
  'fleet',
  'fleetMaxConcurrency',
  'fleetToleratedFailurePercentage',
  'fleetCanary',
  'fleetMaxFollowUps',
  'fleetSecretPrefix',
  'fleetResultsPrefix',
  'fleetManifest',
] as const;

/** The context keys that only mean something with `fleet=true`: the `fleet…` settings. */
const FLEET_KEYS = CONTEXT_KEYS.filter((k) => k.startsWith('fleet') && k !== 'fleet');

/** CloudWatch Logs accepts only these retention periods. */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

/** Lambda's hard limit on a function's timeout. */
export const LAMBDA_MAX_TIMEOUT_SECS = 900;

/**
 * The `dbTls` values the stack accepts, passed to the migrator as DB_TLS. The binary's one
 * list of TLS spellings (engine/src/db/config/params.rs, `TLS_MODES`) must hold each of
 * them; a Rust test and a deploy test read both files to check it. `preferred` is TLS
 * without certificate verification and without go-sql-driver's plaintext fallback.
 */
export const DB_TLS_VALUES = ['required', 'preferred', 'disabled'] as const;

/** Where scripts/package-lambdas puts the RDS CA bundle inside the migrator's zip. */
export const PACKAGED_CA_BUNDLE = '/var/task/certs/rds-global-bundle.pem';

/** The repository root, from this file's place in deploy/lib or deploy/dist/lib. */
function repoRoot(): string {
  const here = __dirname;
  const deployDir = path.basename(path.dirname(here)) === 'dist' ? path.dirname(path.dirname(here)) : path.dirname(here);
  return path.dirname(deployDir);
}

/** Where `cargo lambda build --output-format zip` leaves a binary's zip. */
export function defaultCodePath(binary: 'trigger' | 'migrator'): string {
  return path.join(repoRoot(), 'target', 'lambda', binary, 'bootstrap.zip');
}

const SUBNET_ID = /^subnet-[0-9a-f]{8,17}$/;
const VPC_ID = /^vpc-[0-9a-f]{8,17}$/;
const SG_ID = /^sg-[0-9a-f]{8,17}$/;
const RTB_ID = /^rtb-[0-9a-f]{8,17}$/;
const RESOURCE_ID = /^(db|cluster)-[A-Za-z0-9]{1,64}$/;
const CONNECTION_ARN = /^arn:aws[a-z-]*:(codestar-connections|codeconnections):[a-z0-9-]+:\d{12}:connection\/[A-Za-z0-9-]+$/;
const LAYER_ARN = /^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:layer:[A-Za-z0-9_-]+:\d+$/;
const COMMAND = new RegExp(`^(${MIGRATOR_COMMANDS.join('|')})$`, 'i');
const SNS_TOPIC_ARN = /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/;
// A complete secret ARN: the name, then the six random characters Secrets Manager appends.
const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]{1,512}-[A-Za-z0-9]{6}$/;
const KMS_KEY_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]{1,128}$/;
const HOST = /^[A-Za-z0-9.-]{1,253}$/;
// Users and schema names end up in an IAM ARN and in SQL identifiers; keep to the safe subset.
const DB_IDENT = /^[A-Za-z0-9_$-]{1,64}$/;
const DB_USER = /^[A-Za-z0-9_.$-]{1,80}$/;
const REPO_PART = /^[A-Za-z0-9_.-]{1,100}$/;
const CODECOMMIT_REPO = /^[A-Za-z0-9_.-]{1,100}$/;
const BRANCH = /^[A-Za-z0-9._\/-]{1,255}$/;
const STACK_NAME = /^[A-Za-z][A-Za-z0-9-]{0,127}$/;
const PIPELINE_NAME = /^[A-Za-z0-9.@_-]{1,100}$/;
const TABLE = /^[A-Za-z0-9_$]{1,64}$/;
const REL_DIR = /^[A-Za-z0-9._\/-]{1,1024}$/;
// A secret ARN up to and including at least one character of the name; no IAM wildcards,
// because the prefix becomes `<prefix>*` in the migrator's policy.
const SECRET_PREFIX = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]{1,512}$/;
// A key prefix inside the artifact bucket, ending in `/`.
const KEY_PREFIX = /^[A-Za-z0-9._-][A-Za-z0-9._\/-]{0,199}\/$/;
// An object key in the artifact bucket: AWS's safe key characters only, so it needs no escaping
// and holds no `#{`, which CodePipeline would read as a variable in the action's configuration.
const OBJECT_KEY = /^[A-Za-z0-9!_.*'()\/-]+$/;
/** S3's limit on an object key, in UTF-8 bytes. */
export const S3_KEY_MAX_BYTES = 1024;
/** CodePipeline's limit on one value of an action's configuration, such as UserParameters. */
export const ACTION_CONFIG_VALUE_MAX = 1000;
// A percentage with at most two decimals.
const PERCENT = /^\d{1,3}(\.\d{1,2})?$/;
/** Step Functions' limit on a state machine's name. */
const STATE_MACHINE_NAME_MAX = 80;

/** Parses and validates the stack's context; throws ConfigError naming every bad or missing key. */
export function loadConfig(read: ContextReader, allKeys: readonly string[] = []): DeployConfig {
  const problems: string[] = [];

  const str = (key: string): string | undefined => {
    const v = read(key);
    if (v === undefined || v === null || v === '') return undefined;
    if (typeof v === 'string') return v.trim();
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    problems.push(`${key}: expected a string, got ${JSON.stringify(v)}`);
    return undefined;
  };
  const required = (key: string, pattern: RegExp, what: string): string => {
    const v = str(key);
    if (v === undefined) {
      problems.push(`${key}: required (${what})`);
      return '';
    }
    if (!pattern.test(v)) problems.push(`${key}: ${JSON.stringify(v)} is not ${what}`);
    return v;
  };
  const optional = (key: string, pattern: RegExp, what: string): string | undefined => {
    const v = str(key);
    if (v !== undefined && !pattern.test(v)) problems.push(`${key}: ${JSON.stringify(v)} is not ${what}`);
    return v;
  };
  const bool = (key: string, dflt: boolean): boolean => {
    const v = read(key);
    if (v === undefined || v === null || v === '') return dflt;
    if (v === true || v === 'true') return true;
    if (v === false || v === 'false') return false;
    problems.push(`${key}: expected true or false, got ${JSON.stringify(v)}`);
    return dflt;
  };
  const int = (key: string, dflt: number, min: number, max: number): number => {
    const v = read(key);
    if (v === undefined || v === null || v === '') return dflt;
    const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d{1,9}$/.test(v.trim()) ? Number(v.trim()) : NaN;
    if (!Number.isInteger(n) || n < min || n > max) {
      problems.push(`${key}: expected a whole number from ${min} to ${max}, got ${JSON.stringify(v)}`);
      return dflt;
    }
    return n;
  };
  const list = (key: string, pattern: RegExp, what: string): string[] => {
    const v = read(key);
    if (v === undefined || v === null || v === '') return [];
    let items: unknown[];
    if (Array.isArray(v)) items = v;
    else if (typeof v === 'string' && v.trim().startsWith('[')) {
      try {
        const parsed: unknown = JSON.parse(v);
        items = Array.isArray(parsed) ? parsed : [v];
      } catch {
        problems.push(`${key}: ${JSON.stringify(v)} is not a JSON array`);
        return [];
      }
    } else if (typeof v === 'string') items = v.split(',');
    else {
      problems.push(`${key}: expected a comma-separated list, got ${JSON.stringify(v)}`);
      return [];
    }
    const out: string[] = [];
    for (const item of items) {
      const s = typeof item === 'string' ? item.trim() : '';
      if (!pattern.test(s)) problems.push(`${key}: ${JSON.stringify(item)} is not ${what}`);
      else if (!out.includes(s)) out.push(s);
    }
    return out;
  };
  const oneOf = <T extends string>(key: string, allowed: readonly T[], dflt: T): T => {
    const v = str(key);
    if (v === undefined) return dflt;
    if (!(allowed as readonly string[]).includes(v)) {
      problems.push(`${key}: expected one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`);
      return dflt;
    }
    return v as T;
  };

  for (const key of allKeys) {
    if (!(CONTEXT_KEYS as readonly string[]).includes(key)) {
      problems.push(`${key}: unknown context key (known keys: ${CONTEXT_KEYS.join(', ')})`);
    }
  }

  const stackName = optional('stackName', STACK_NAME, 'a CloudFormation stack name') ?? 'LambdaMigrate';
  const branch = optional('branch', BRANCH, 'a branch name') ?? 'main';

  // Source: exactly one of CodeCommit or a connection.
  const repositoryName = optional('repositoryName', CODECOMMIT_REPO, 'a CodeCommit repository name');
  const connectionArn = optional('connectionArn', CONNECTION_ARN, 'a CodeStar/CodeConnections connection ARN');
  const repository = str('repository');
  let source: SourceConfig = { kind: 'codecommit', repositoryName: '', branch };
  if (repositoryName !== undefined && connectionArn !== undefined) {
    problems.push('repositoryName and connectionArn: give one source, not both');
  } else if (connectionArn !== undefined) {
    const parts = repository?.split('/') ?? [];
    if (parts.length !== 2 || !parts.every((p) => REPO_PART.test(p))) {
      problems.push(`repository: required with connectionArn, as OWNER/NAME (got ${JSON.stringify(repository ?? null)})`);
    }
    source = { kind: 'connection', connectionArn, owner: parts[0] ?? '', repo: parts[1] ?? '', branch };
  } else if (repositoryName !== undefined) {
    if (repository !== undefined) problems.push('repository: only used with connectionArn; CodeCommit takes repositoryName');
    source = { kind: 'codecommit', repositoryName, branch };
  } else {
    problems.push('repositoryName or connectionArn: required (CodeCommit repository name, or a connection ARN with repository=OWNER/NAME)');
  }

  const vpcId = required('vpcId', VPC_ID, 'a VPC id (vpc-...)');
  const subnetIds = list('subnetIds', SUBNET_ID, 'a subnet id (subnet-...)');
  if (read('subnetIds') === undefined || read('subnetIds') === '') {
    problems.push('subnetIds: required (comma-separated private subnet ids)');
  }
  const securityGroupId = required('securityGroupId', SG_ID, 'a security group id (sg-...)');
  const createS3Endpoint = bool('createS3Endpoint', false);
  const routeTableIds = list('routeTableIds', RTB_ID, 'a route table id (rtb-...)');
  if (createS3Endpoint && routeTableIds.length === 0) {
    problems.push('routeTableIds: required when createS3Endpoint=true (the route tables of subnetIds)');
  }
  if (!createS3Endpoint && routeTableIds.length > 0) {
    problems.push('routeTableIds: only used with createS3Endpoint=true');
  }

  const dbHost = required('dbHost', HOST, 'a host name');
  const dbPort = int('dbPort', DEFAULTS.dbPort, 1, 65535);
  const dbName = required('dbName', DB_IDENT, 'a database name (letters, digits, _ $ -)');
  const dbUser = required('dbUser', DB_USER, 'a database user name (letters, digits, _ . $ -)');

  // Authentication: a secret read at run time, or IAM. A plain password is refused: it would sit
  // in cdk.out, the template and the function's configuration.
  const secretArn = optional(
    'dbSecretArn',
    SECRET_ARN,
    'a complete Secrets Manager secret ARN (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-XXXXXX; `aws secretsmanager describe-secret --secret-id NAME --query ARN` prints it)',
  );
  // An explicit empty string means a plain-text secret, so read the raw value.
  const rawField = read('dbSecretField');
  const secretField = rawField === '' ? '' : optional('dbSecretField', /^[^\s]{1,256}$/, 'a JSON key (no spaces)');
  const secretKmsKeyArn = optional('dbSecretKmsKeyArn', KMS_KEY_ARN, 'a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)');
  const createSecretsEndpoint = bool('createSecretsManagerEndpoint', true);
  const iam = bool('dbIamAuth', DEFAULTS.dbIamAuth);
  const resourceId = optional('dbInstanceResourceId', RESOURCE_ID, 'an RDS resource id (db-... or cluster-...)');
  if (str('dbPassword') !== undefined) {
    problems.push(
      'dbPassword: a plain password is no longer accepted (it would be readable in cdk.out, the template and the ' +
        "function's configuration). Store it in Secrets Manager and pass dbSecretArn (the migrator reads it at run time), " +
        'or use dbIamAuth=true with dbInstanceResourceId',
    );
  }
  let dbAuth: DbAuthConfig = { kind: 'iam', resourceId: '' };
  if (secretArn !== undefined && iam) {
    problems.push('dbSecretArn, dbIamAuth: give one, not both');
  } else if (secretArn !== undefined) {
    dbAuth = {
      kind: 'secret',
      secretArn,
      jsonField: secretField ?? DEFAULTS.dbSecretField,
      createEndpoint: createSecretsEndpoint,
      kmsKeyArn: secretKmsKeyArn,
    };
  } else if (iam) {
    if (resourceId === undefined) {
      problems.push('dbInstanceResourceId: required with dbIamAuth=true (the DbiResourceId, e.g. db-ABCDEFGHIJKLMNOPQRSTUVWXY)');
    }
    dbAuth = { kind: 'iam', resourceId: resourceId ?? '' };
  } else if (str('dbPassword') === undefined) {
    problems.push('dbIamAuth=true or dbSecretArn: required (how the migrator authenticates; IAM auth is recommended)');
  }
  if (secretArn === undefined) {
    if (rawField !== undefined && rawField !== null) problems.push('dbSecretField: only used with dbSecretArn');
    if (secretKmsKeyArn !== undefined) problems.push('dbSecretKmsKeyArn: only used with dbSecretArn');
  }
  if (resourceId !== undefined && !iam) problems.push('dbInstanceResourceId: only used with dbIamAuth=true');

  let dbTls = optional('dbTls', new RegExp(`^(${DB_TLS_VALUES.join('|')})$`), `one of ${DB_TLS_VALUES.join(', ')}`);
  if (iam) {
    // IAM tokens are sent as a cleartext password, so RDS refuses them without TLS.
    if (dbTls !== undefined && dbTls !== 'required') problems.push('dbTls: must be "required" with dbIamAuth=true');
    dbTls = 'required';
  }
  let dbCaBundle = optional('dbCaBundle', /^\/[A-Za-z0-9._\/-]{1,1023}$/, 'an absolute path inside the Lambda environment');
  // Verified TLS trusts the packaged RDS CA bundle by default, whatever the authentication.
  if (dbTls === 'required' && dbCaBundle === undefined) dbCaBundle = PACKAGED_CA_BUNDLE;
  const caBundleLayerArn = optional('caBundleLayerArn', LAYER_ARN, 'a Lambda layer version ARN');

  const migrationsDir = optional('migrationsDir', REL_DIR, 'a relative folder path') ?? DEFAULTS.migrationsDir;
  if (migrationsDir.startsWith('/') || migrationsDir.split('/').includes('..')) {
    problems.push(`migrationsDir: ${JSON.stringify(migrationsDir)} must be relative to the artifact root, without ..`);
  }
  const migrationsTable = optional('migrationsTable', TABLE, 'a table name') ?? DEFAULTS.migrationsTable;

  const migratorTimeoutSecs = int('migratorTimeoutSecs', DEFAULTS.migratorTimeoutSecs, 10, LAMBDA_MAX_TIMEOUT_SECS - 10);
  const lockTimeoutSecs = int('lockTimeoutSecs', DEFAULTS.lockTimeoutSecs, 0, LAMBDA_MAX_TIMEOUT_SECS);
  if (lockTimeoutSecs >= migratorTimeoutSecs) {
    problems.push(`lockTimeoutSecs: ${lockTimeoutSecs} must be less than migratorTimeoutSecs (${migratorTimeoutSecs})`);
  }
  const lockWaitTimeoutSecs = int('lockWaitTimeoutSecs', DEFAULTS.lockWaitTimeoutSecs, 1, LAMBDA_MAX_TIMEOUT_SECS);
  const lockWaitRetries = int('lockWaitRetries', DEFAULTS.lockWaitRetries, 0, 10);
  const given = (key: string): boolean => ![undefined, null, ''].includes(read(key) as string | null | undefined);
  const deadlineMarginSecs = given('deadlineMarginSecs') ? int('deadlineMarginSecs', DEFAULTS.deadlineMarginSecs, 0, LAMBDA_MAX_TIMEOUT_SECS) : undefined;
  const killMarginSecs = given('killMarginSecs') ? int('killMarginSecs', DEFAULTS.killMarginSecs, 0, LAMBDA_MAX_TIMEOUT_SECS) : undefined;
  if (deadlineMarginSecs !== undefined && deadlineMarginSecs >= migratorTimeoutSecs) {
    problems.push(`deadlineMarginSecs: ${deadlineMarginSecs} must be less than migratorTimeoutSecs (${migratorTimeoutSecs}), or no migration could ever start`);
  }
  if (killMarginSecs !== undefined && killMarginSecs > (deadlineMarginSecs ?? Math.min(DEFAULTS.deadlineMarginSecs, migratorTimeoutSecs / 3))) {
    problems.push('killMarginSecs: must not exceed deadlineMarginSecs (default 30 s, at most a third of migratorTimeoutSecs)');
  }
  const defaultTrigger = Math.min(migratorTimeoutSecs + 60, LAMBDA_MAX_TIMEOUT_SECS);
  const triggerTimeoutSecs = int('triggerTimeoutSecs', defaultTrigger, 1, LAMBDA_MAX_TIMEOUT_SECS);
  if (triggerTimeoutSecs <= migratorTimeoutSecs) {
    problems.push(
      `triggerTimeoutSecs: ${triggerTimeoutSecs} must be greater than migratorTimeoutSecs (${migratorTimeoutSecs}) so the trigger can report the migrator's outcome`,
    );
  }
  const migratorMemoryMb = int('migratorMemoryMb', 256, 128, 10240);

  const architecture = oneOf('architecture', ['x86_64', 'arm64'] as const, 'x86_64');
  const triggerCode = str('triggerCode') ?? defaultCodePath('trigger');
  const migratorCode = str('migratorCode') ?? defaultCodePath('migrator');

  const logRetentionDays = int('logRetentionDays', 30, 1, 3653);
  if (!(LOG_RETENTION_DAYS as readonly number[]).includes(logRetentionDays)) {
    problems.push(`logRetentionDays: ${logRetentionDays} is not one CloudWatch Logs accepts (${LOG_RETENTION_DAYS.join(', ')})`);
  }
  const artifactEncryption = oneOf('artifactEncryption', ['s3', 'kms'] as const, 's3');
  const migratorFetchesArtifact = bool('migratorFetchesArtifact', true);
  const fetchModeRaw = optional('fetchMode', /^(full|selective|auto)$/, 'one of full, selective, auto');
  const fetchMode = fetchModeRaw as DeployConfig['fetchMode'];
  const lintFailOn = oneOf('lintFailOn', ['error', 'warning', 'never'] as const, DEFAULTS.lintFailOn);
  const pipelineName = optional('pipelineName', PIPELINE_NAME, 'a pipeline name');
  const vpcAccessPolicy = oneOf('vpcAccessPolicy', ['scoped', 'managed'] as const, 'scoped');

  // Names are matched case-insensitively (list() trims each), then normalised to lowercase.
  const commandsBefore = problems.length;
  const commandNames = list('migratorCommands', COMMAND, `a command (one of ${MIGRATOR_COMMANDS.join(', ')})`);
  const badCommands = problems.length > commandsBefore;
  const rawCommands = read('migratorCommands');
  const migratorCommands =
    rawCommands === undefined || rawCommands === null || rawCommands === ''
      ? [...DEFAULT_MIGRATOR_COMMANDS]
      : dedupe(commandNames.map((c) => c.toLowerCase() as MigratorCommand));
  const reviewedPipeline = bool('reviewedPipeline', false);
  // The trigger runs up (and polls status while a long run continues), plus plan in a reviewed pipeline.
  const pipelineNeeds: MigratorCommand[] = reviewedPipeline ? ['plan', 'up', 'status'] : ['up', 'status'];
  const missing = pipelineNeeds.filter((c) => !migratorCommands.includes(c));
  if (!badCommands && missing.length > 0) {
    problems.push(`migratorCommands: the pipeline needs ${missing.join(', ')} (it runs ${pipelineNeeds.join(', ')})`);
  }
  const approvalTopicArn = optional('approvalTopicArn', SNS_TOPIC_ARN, 'a standard SNS topic ARN');
  if (approvalTopicArn !== undefined && !reviewedPipeline) {
    problems.push('approvalTopicArn: only used with reviewedPipeline=true');
  }

  // At least 2: the trigger polls `status` while the `up` it started still runs.
  const migratorReservedConcurrency =
    str('migratorReservedConcurrency') === 'none' ? undefined : int('migratorReservedConcurrency', 5, 2, 1000);

  const alarmTopicArn = optional('alarmTopicArn', SNS_TOPIC_ARN, 'a standard SNS topic ARN');
  const createAlarmTopic = bool('createAlarmTopic', false);
  if (alarmTopicArn !== undefined && createAlarmTopic) {
    problems.push('alarmTopicArn, createAlarmTopic: give an existing topic or ask for a new one, not both');
  }
  const alarmTopic: DeployConfig['alarmTopic'] =
    alarmTopicArn !== undefined ? { kind: 'existing', arn: alarmTopicArn } : createAlarmTopic ? { kind: 'create' } : { kind: 'none' };

  // Fleet: opt-in; its settings are errors without it, like every other "only used with" key.
  const fleetOn = bool('fleet', false);
  let fleet: FleetConfig | undefined;
  if (!fleetOn) {
    for (const key of FLEET_KEYS) if (given(key)) problems.push(`${key}: only used with fleet=true`);
  } else {
    const percent = (key: string, dflt: number): number => {
      const v = read(key);
      if (v === undefined || v === null || v === '') return dflt;
      const n = typeof v === 'number' ? v : typeof v === 'string' && PERCENT.test(v.trim()) ? Number(v.trim()) : NaN;
      if (!Number.isFinite(n) || n < 0 || n > 100 || Math.round(n * 100) !== n * 100) {
        problems.push(`${key}: expected a percentage from 0 to 100 (at most two decimals), got ${JSON.stringify(v)}`);
        return dflt;
      }
      return n;
    };
    const prefixBefore = problems.length;
    const resultsPrefix =
      optional('fleetResultsPrefix', KEY_PREFIX, 'a key prefix in the artifact bucket ending in / (letters, digits, . _ - /)') ??
      FLEET_DEFAULTS.resultsPrefix;
    if (resultsPrefix.split('/').includes('..')) problems.push(`fleetResultsPrefix: ${JSON.stringify(resultsPrefix)} must not hold ..`);
    // A bad prefix is reported once, not again through every key measured against it.
    const manifest = fleetManifest(str('fleetManifest'), problems.length === prefixBefore ? resultsPrefix : undefined, problems);
    const secretPrefix = optional(
      'fleetSecretPrefix',
      SECRET_PREFIX,
      'a Secrets Manager ARN prefix with at least the start of a name (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-PREFIX), without * or ?',
    );
    fleet = {
      maxConcurrency: int('fleetMaxConcurrency', FLEET_DEFAULTS.maxConcurrency, 1, 1000),
      toleratedFailurePercentage: percent('fleetToleratedFailurePercentage', FLEET_DEFAULTS.toleratedFailurePercentage),
      canary: int('fleetCanary', FLEET_DEFAULTS.canary, 0, 100),
      maxFollowUps: int('fleetMaxFollowUps', FLEET_DEFAULTS.maxFollowUps, 0, 100),
      secretPrefix,
      resultsPrefix,
      // The targets' secrets are read at run time too, through the same endpoint.
      createSecretsEndpoint: secretPrefix !== undefined && createSecretsEndpoint,
      manifest,
    };
    const machineName = `${stackName}${FLEET_STATE_MACHINE_SUFFIX}`;
    if (machineName.length > STATE_MACHINE_NAME_MAX) {
      problems.push(`stackName: at most ${STATE_MACHINE_NAME_MAX - FLEET_STATE_MACHINE_SUFFIX.length} characters with fleet=true (the state machine is named ${machineName})`);
    }
    // Every concurrent target holds one migrator; operators need room beside them.
    if (given('migratorReservedConcurrency') && migratorReservedConcurrency !== undefined && migratorReservedConcurrency <= fleet.maxConcurrency) {
      problems.push(
        `migratorReservedConcurrency: ${migratorReservedConcurrency} must exceed fleetMaxConcurrency (${fleet.maxConcurrency}), ` +
          'or the Distributed Map is throttled; raise it or set it to none',
      );
    }
  }
  if (fleet?.secretPrefix === undefined && secretArn === undefined) {
    const rawEndpoint = read('createSecretsManagerEndpoint');
    if (rawEndpoint !== undefined && rawEndpoint !== null && rawEndpoint !== '') {
      problems.push('createSecretsManagerEndpoint: only used with dbSecretArn or fleetSecretPrefix');
    }
  }
  // The default reservation leaves one invocation beside a full Distributed Map.
  const reservedConcurrency =
    fleet !== undefined && !given('migratorReservedConcurrency') ? Math.max(5, fleet.maxConcurrency + 1) : migratorReservedConcurrency;

  if (problems.length > 0) throw new ConfigError(problems);

  return {
    stackName,
    source,
    vpcId,
    subnetIds,
    securityGroupId,
    createS3Endpoint,
    routeTableIds,
    dbHost,
    dbPort,
    dbName,
    dbUser,
    dbAuth,
    dbTls,
    dbCaBundle,
    caBundleLayerArn,
    migrationsDir,
    migrationsTable,
    lockTimeoutSecs,
    lockWaitTimeoutSecs,
    lockWaitRetries,
    deadlineMarginSecs,
    killMarginSecs,
    migratorTimeoutSecs,
    triggerTimeoutSecs,
    migratorMemoryMb,
    architecture,
    triggerCode,
    migratorCode,
    logRetentionDays,
    artifactEncryption,
    migratorFetchesArtifact,
    fetchMode,
    lintFailOn,
    pipelineName,
    vpcAccessPolicy,
    migratorCommands,
    reviewedPipeline,
    approvalTopicArn,
    migratorReservedConcurrency: reservedConcurrency,
    alarmTopic,
    fleet,
  };
}

/** The UserParameters the stack's `Migrate` action is given for a fleet manifest (JSON as CodePipeline passes it). */
export function fleetUserParameters(manifest: string): { fleet: { manifest: string } } {
  return { fleet: { manifest } };
}

/**
 * Checks `fleetManifest`: an object key under the results prefix (where the trigger's role
 * may read), one S3 accepts, that fits CodePipeline's UserParameters. `prefix` is undefined
 * when it is itself invalid. Returns the key, or undefined after adding a problem.
 */
function fleetManifest(key: string | undefined, prefix: string | undefined, problems: string[]): string | undefined {
  if (key === undefined) return undefined;
  const bad = (why: string): undefined => {
    problems.push(`fleetManifest: ${JSON.stringify(key)} ${why}`);
    return undefined;
  };
  if (key.startsWith('/')) return bad('must not start with / (an S3 key, e.g. fleet/manifests/tenants.jsonl)');
  if (key.split('/').some((segment) => segment === '..' || segment === '.')) return bad('must not hold . or .. segments');
  if (!OBJECT_KEY.test(key)) return bad("is not an S3 key of letters, digits and ! _ . * ' ( ) / -");
  if (Buffer.byteLength(key, 'utf8') > S3_KEY_MAX_BYTES) return bad(`is longer than S3's ${S3_KEY_MAX_BYTES} bytes`);
  if (key.endsWith('/')) return bad('names a folder, not the manifest object');
  if (prefix === undefined) return undefined;
  if (!key.startsWith(prefix)) {
    return bad(
      `must be under fleetResultsPrefix (${prefix}), the only place the trigger may read the bucket: e.g. ${prefix}manifests/tenants.jsonl`,
    );
  }
  const params = JSON.stringify(fleetUserParameters(key));
  if (params.length > ACTION_CONFIG_VALUE_MAX) {
    return bad(`makes the Migrate action's UserParameters ${params.length} characters; CodePipeline allows ${ACTION_CONFIG_VALUE_MAX}`);
  }
  return key;
}

/** The items in first-seen order, each once. */
function dedupe<T>(items: readonly T[]): T[] {
  return [...new Set(items)];
}
