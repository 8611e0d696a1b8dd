/**
 * The fleet state machine's Amazon States Language definition, written out by hand rather than
 * built from CDK's state classes: every field the engines read is visible here, the string is
 * byte for byte what the stack deploys and what `test/fleet.asl.json` holds for the moto
 * execution test, and its IAM is granted in `fleet.ts` statement by statement.
 *
 * The contract it implements (execution input, the migrator's event and reply, the summary's
 * event and reply) is set out in DESIGN.md, "Fleet on Step Functions".
 */

/**
 * The placeholders CloudFormation replaces (`DefinitionSubstitutions`): the two functions' ARNs
 * and the artifact bucket's name (ResultWriter's).
 */
export const SUBSTITUTIONS = {
  migrator: 'MigratorFunctionArn',
  trigger: 'TriggerFunctionArn',
  bucket: 'ArtifactBucketName',
} as const;

/**
 * The errors a Lambda Invoke task is retried on: Lambda's own service errors and throttling,
 * never a failure the migrator reports (SqlError, PartialMigration, LockTimeout, ...), never
 * `Lambda.Unknown` (the function died: out of memory, or killed at its timeout; running it
 * again repeats that) and never `States.ALL`. `ClientExecutionTimeoutException` may come back
 * while the function still runs: the retry then waits for that run's per-database lock and
 * re-plans, so nothing is applied twice (DESIGN.md).
 */
export const RETRIED_LAMBDA_ERRORS = [
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
  'Lambda.ClientExecutionTimeoutException',
] as const;

/** The Distributed Map's label: it names the map run and its child executions in their ARNs. */
export const FLEET_MAP_LABEL = 'Fleet';

/**
 * Where, under `fleetResultsPrefix`, Step Functions' ResultWriter writes: `<prefix>map/<map run
 * id>/manifest.json` and the result files beside it. One folder for every run (the map run id
 * keeps them apart), because ResultWriter's Bucket and Prefix are constants: moto's interpreter
 * reads their paths from the Map's results, not from its input.
 */
export const MAP_RESULTS_FOLDER = 'map';

/** What a definition depends on: the fleet settings and the two functions' timeouts. */
export interface FleetDefinitionSettings {
  /** The Distributed Map's MaxConcurrency. */
  readonly maxConcurrency: number;
  /** The Distributed Map's ToleratedFailurePercentage, and the budget the summary judges by. */
  readonly toleratedFailurePercentage: number;
  /** How often one target's invocation is repeated while the migrator stops at its deadline with work left. */
  readonly maxFollowUps: number;
  /** The migrator's Lambda timeout: its Invoke task waits a minute longer. */
  readonly migratorTimeoutSecs: number;
  /** The trigger's Lambda timeout: the summary's Invoke task waits a minute longer. */
  readonly triggerTimeoutSecs: number;
  /** The artifact bucket's key prefix for the fleet runs (fleetResultsPrefix, ending in `/`). */
  readonly resultsPrefix: string;
}

/**
 * A number the definition must spell with a decimal point: moto's interpreter (LocalStack's)
 * refuses an integer ToleratedFailurePercentage, and JSON.stringify writes 0.0 as 0.
 */
class Float {
  constructor(readonly value: number) {}
}

/** Marks a float in the object before serialisation; never appears in the output. */
const FLOAT_MARK = '@@asl-float@@';

/** Serialises a definition with two-space indents, writing each {@link Float} with a decimal point. */
function serialize(definition: unknown): string {
  const json = JSON.stringify(
    definition,
    (_key, value: unknown) => {
      if (!(value instanceof Float)) return value;
      return FLOAT_MARK + (Number.isInteger(value.value) ? value.value.toFixed(1) : String(value.value));
    },
    2,
  );
  return json.replace(new RegExp(`"${FLOAT_MARK}([0-9.]+)"`, 'g'), '$1');
}

/** The one Retry rule of both Invoke tasks: Lambda's service errors, with capped, jittered backoff. */
function lambdaRetry(): Record<string, unknown> {
  return {
    ErrorEquals: [...RETRIED_LAMBDA_ERRORS],
    IntervalSeconds: 2,
    MaxAttempts: 6,
    BackoffRate: new Float(2),
    MaxDelaySeconds: 60,
    JitterStrategy: 'FULL',
  };
}

/** What each Map hands one iteration: the run's fields it needs, the item as `target`, no follow-up yet. */
const ITEM_SELECTOR = {
  'artifact.$': '$.artifact',
  'command.$': '$.command',
  'results.$': '$.results',
  'target.$': '$$.Map.Item.Value',
  follow_ups: 0,
};

/**
 * One target's processor: invoke the migrator, and while its reply says it stopped at its
 * deadline with migrations left, invoke it again, at most `maxFollowUps` times. State names
 * carry `prefix` because Step Functions wants them unique in the whole definition.
 */
function processor(prefix: string, mode: 'INLINE' | 'DISTRIBUTED', s: FleetDefinitionSettings): Record<string, unknown> {
  const invoke = `${prefix}Invoke`;
  const choice = `${prefix}StoppedAtDeadline`;
  const followUp = `${prefix}FollowUp`;
  const done = `${prefix}Done`;
  const exhausted = `${prefix}FollowUpsExhausted`;
  return {
    ProcessorConfig: mode === 'INLINE' ? { Mode: 'INLINE' } : { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' },
    StartAt: invoke,
    States: {
      [invoke]: {
        Type: 'Task',
        Resource: 'arn:aws:states:::lambda:invoke',
        Parameters: {
          FunctionName: `\${${SUBSTITUTIONS.migrator}}`,
          Payload: {
            'BucketName.$': '$.artifact.bucket',
            'ObjectKey.$': '$.artifact.key',
            'expected_digest.$': '$.artifact.digest',
            'command.$': '$.command',
            'target.$': '$.target',
            // One key per invocation (follow-up, then retry of the same call): a retried or
            // repeated invocation never overwrites what an earlier one wrote.
            result: {
              'bucket.$': '$.results.bucket',
              'key.$': "States.Format('{}targets/{}/{}.{}.json', $.results.prefix, $.target.name, $.follow_ups, $$.State.RetryCount)",
            },
          },
        },
        // Only what the loop reads: the whole report goes to the result file, and state data is
        // capped at 256 KiB.
        ResultSelector: { 'stopped.$': '$.Payload.stopped' },
        ResultPath: '$.reply',
        TimeoutSeconds: s.migratorTimeoutSecs + 60,
        Retry: [lambdaRetry()],
        Next: choice,
      },
      [choice]: {
        Type: 'Choice',
        Choices: [
          { Variable: '$.reply.stopped', BooleanEquals: false, Next: done },
          { Variable: '$.follow_ups', NumericLessThan: s.maxFollowUps, Next: followUp },
        ],
        Default: exhausted,
      },
      [followUp]: {
        Type: 'Pass',
        Parameters: {
          'artifact.$': '$.artifact',
          'command.$': '$.command',
          'results.$': '$.results',
          'target.$': '$.target',
          'follow_ups.$': 'States.MathAdd($.follow_ups, 1)',
        },
        Next: invoke,
      },
      [done]: {
        Type: 'Pass',
        Parameters: { 'name.$': '$.target.name', 'follow_ups.$': '$.follow_ups' },
        End: true,
      },
      // A target still unfinished is a failure, so that a canary that keeps hitting its deadline
      // stops the fleet and the Map's tolerance counts it.
      [exhausted]: {
        Type: 'Fail',
        Error: 'FollowUpsExhausted',
        Cause: `the migrator still stopped at its deadline with migrations pending after ${s.maxFollowUps} follow-up invocation(s)`,
      },
    },
  };
}

/**
 * The definition, with `${MigratorFunctionArn}` and `${TriggerFunctionArn}` for CloudFormation
 * to substitute. Pure: the same settings give the same bytes.
 */
export function fleetDefinition(s: FleetDefinitionSettings): string {
  const summaryCatch = (stage: string) => [{ ErrorEquals: ['States.ALL'], ResultPath: `$.aborted.${stage}`, Next: 'Summary' }];
  return serialize({
    Comment:
      'lambda-migrate fleet run: the canary targets one at a time, then the rest in a Distributed Map, ' +
      'then a summary judged against the failure budget (deploy/lib/asl.ts)',
    StartAt: 'Start',
    States: {
      // Keeps the fields the run reads (a missing one fails here, before anything runs) and
      // starts `aborted` empty, for the Maps' Catch to fill.
      Start: {
        Type: 'Pass',
        Parameters: {
          'job.$': '$.job',
          'artifact.$': '$.artifact',
          'command.$': '$.command',
          'canary.$': '$.canary',
          'items.$': '$.items',
          'results.$': '$.results',
          aborted: {},
        },
        Next: 'Canary',
      },
      // One at a time, no tolerance: the first failure fails the Map, and the fleet never starts.
      Canary: {
        Type: 'Map',
        ItemsPath: '$.canary',
        MaxConcurrency: 1,
        ItemSelector: ITEM_SELECTOR,
        ItemProcessor: processor('Canary', 'INLINE', s),
        ResultPath: null,
        Catch: summaryCatch('canary'),
        Next: 'Fleet',
      },
      Fleet: {
        Type: 'Map',
        Label: FLEET_MAP_LABEL,
        ItemReader: {
          Resource: 'arn:aws:states:::s3:getObject',
          ReaderConfig: { InputType: 'JSON' },
          Parameters: { 'Bucket.$': '$.items.bucket', 'Key.$': '$.items.key' },
        },
        ItemSelector: ITEM_SELECTOR,
        MaxConcurrency: s.maxConcurrency,
        ToleratedFailurePercentage: new Float(s.toleratedFailurePercentage),
        ItemProcessor: processor('Target', 'DISTRIBUTED', s),
        // Child results stay out of the state (256 KiB); in AWS they land here, per map run.
        ResultWriter: {
          Resource: 'arn:aws:states:::s3:putObject',
          Parameters: { Bucket: `\${${SUBSTITUTIONS.bucket}}`, Prefix: `${s.resultsPrefix}${MAP_RESULTS_FOLDER}` },
        },
        ResultPath: null,
        Catch: summaryCatch('fleet'),
        Next: 'Summary',
      },
      // Reached after both Maps, or after either failed: a summary is always written.
      Summary: {
        Type: 'Task',
        Resource: 'arn:aws:states:::lambda:invoke',
        Parameters: {
          FunctionName: `\${${SUBSTITUTIONS.trigger}}`,
          Payload: {
            fleet_summary: {
              'job.$': '$.job',
              'execution.$': '$$.Execution.Id',
              'command.$': '$.command',
              'canary.$': '$.canary',
              'items.$': '$.items',
              'results.$': '$.results',
              'aborted.$': '$.aborted',
              tolerate: new Float(s.toleratedFailurePercentage),
            },
          },
        },
        // The summary answers with the run's verdict (engine::fleet's): `passed` is false when a
        // canary failed, a target did not run, or more failed than the budget allows.
        ResultSelector: { 'passed.$': '$.Payload.passed' },
        ResultPath: '$.summary',
        TimeoutSeconds: s.triggerTimeoutSecs + 60,
        Retry: [lambdaRetry()],
        Next: 'Verdict',
      },
      Verdict: {
        Type: 'Choice',
        Choices: [{ Variable: '$.summary.passed', BooleanEquals: true, Next: 'Succeeded' }],
        Default: 'Failed',
      },
      Succeeded: { Type: 'Succeed' },
      Failed: {
        Type: 'Fail',
        Error: 'FleetFailed',
        Cause:
          'a canary failed, a target did not run, or more targets failed than the failure budget allows; ' +
          "summary.json and results.jsonl under the run's results prefix say which",
      },
    },
  });
}

/** Replaces each `${NAME}` placeholder with its value, as CloudFormation does on deploy. */
export function substitute(definition: string, values: Readonly<Record<string, string>>): string {
  return definition.replace(/\$\{([A-Za-z0-9_]+)\}/g, (whole, name: string) => values[name] ?? whole);
}
