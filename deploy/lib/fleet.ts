import * as cdk from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { FLEET_MAP_LABEL, fleetDefinition, MAP_RESULTS_FOLDER, SUBSTITUTIONS } from './asl';
import { DeployConfig, FLEET_STATE_MACHINE_SUFFIX, FleetConfig } from './config';

/**
 * Where a run's objects live under `<fleetResultsPrefix><job id>/` in the artifact bucket, and
 * so what each role may touch: the trigger writes `items.json`, then (as the summary step)
 * `results.jsonl` and `summary.json`; the migrator `targets/<name>/<follow-up>.<retry>.json`.
 * Step Functions' ResultWriter writes beside the runs, in `<fleetResultsPrefix>map/<map run id>/`.
 */
export const RUN_KEYS = {
  items: 'items.json',
  targets: 'targets/',
  results: 'results.jsonl',
  summary: 'summary.json',
} as const;

/** Props of {@link Fleet}. */
export interface FleetProps {
  /** The validated deploy configuration. */
  readonly config: DeployConfig;
  /** Its fleet settings. */
  readonly fleet: FleetConfig;
  /** The function each target's processor invokes. */
  readonly migrator: lambda.Function;
  /** The function that starts and follows a run, and writes its summary. */
  readonly trigger: lambda.Function;
  /** The pipeline's artifact bucket: the runs' items and results live in it too. */
  readonly bucket: s3.IBucket;
  /** The bucket's customer-managed key, when it has one. */
  readonly bucketKey?: kms.IKey;
}

/**
 * The fleet state machine (issue 21, DESIGN.md "Fleet on Step Functions"): a Standard workflow
 * whose definition is `asl.ts`'s, its own role, an error log, and the grants the migrator and
 * the trigger need to take part. Every statement names its resources; none uses `*` where IAM
 * can scope.
 */
export class Fleet extends Construct {
  /** The state machine; its name is the stack's plus `-fleet`. */
  readonly stateMachine: sfn.StateMachine;
  /** The role Step Functions runs it with. */
  readonly role: iam.Role;
  /** Where Step Functions logs the run's errors. */
  readonly logGroup: logs.LogGroup;

  /** Builds the state machine and grants each party its part. */
  constructor(scope: Construct, id: string, props: FleetProps) {
    super(scope, id);
    const { config: cfg, fleet, migrator, trigger, bucket, bucketKey } = props;
    const stack = cdk.Stack.of(this);
    const name = `${cfg.stackName}${FLEET_STATE_MACHINE_SUFFIX}`;
    // Built from the fixed name, not the resource: the trigger's policy and environment name
    // the state machine that itself invokes the trigger, which a reference would make a cycle.
    const states = (resource: string, resourceName: string) =>
      stack.formatArn({ service: 'states', resource, resourceName, arnFormat: cdk.ArnFormat.COLON_RESOURCE_NAME });
    const machineArn = states('stateMachine', name);
    const executions = states('execution', `${name}:*`);
    const childExecutions = states('execution', `${name}/${FLEET_MAP_LABEL}:*`);
    const mapRuns = states('mapRun', `${name}/${FLEET_MAP_LABEL}:*`);
    const runs = (suffix: string) => bucket.arnForObjects(`${fleet.resultsPrefix}*/${suffix}`);
    // SSE-KMS: reads and writes ask KMS, only through S3.
    const viaS3 = { StringEquals: { 'kms:ViaService': `s3.${stack.region}.amazonaws.com` } };
    const kmsGrant = (role: iam.IGrantable, actions: string[]) => {
      if (bucketKey === undefined) return;
      role.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions, resources: [bucketKey.keyArn], conditions: viaS3 }));
    };

    // The state machine's role ------------------------------------------------------------------
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('states.amazonaws.com'),
      description: 'lambda-migrate fleet state machine: invoke the migrator and the summary, read the items, write the map results',
    });
    const allow = (actions: string[], resources: string[]) =>
      this.role.addToPolicy(new iam.PolicyStatement({ actions, resources }));
    // The unqualified functions only, as the definition names them.
    allow(['lambda:InvokeFunction'], [migrator.functionArn, trigger.functionArn]);
    allow(['s3:GetObject'], [runs(RUN_KEYS.items)]);
    // What ResultWriter needs (multipart uploads of large result files), in its one folder.
    allow(
      ['s3:PutObject', 's3:GetObject', 's3:ListMultipartUploadParts', 's3:AbortMultipartUpload'],
      [bucket.arnForObjects(`${fleet.resultsPrefix}${MAP_RESULTS_FOLDER}/*`)],
    );
    // A Distributed Map starts its child executions on this state machine and follows them.
    allow(['states:StartExecution'], [machineArn]);
    allow(['states:DescribeExecution', 'states:StopExecution'], [executions, childExecutions]);
    kmsGrant(this.role, ['kms:Decrypt', 'kms:GenerateDataKey']);

    // The state machine ---------------------------------------------------------------------------
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      // Under /aws/vendedlogs/ so that Step Functions' log delivery does not grow the account's
      // CloudWatch Logs resource policy.
      logGroupName: `/aws/vendedlogs/states/${name}`,
      retention: cfg.logRetentionDays as logs.RetentionDays,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName: name,
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromString(
        fleetDefinition({
          maxConcurrency: fleet.maxConcurrency,
          toleratedFailurePercentage: fleet.toleratedFailurePercentage,
          maxFollowUps: fleet.maxFollowUps,
          migratorTimeoutSecs: cfg.migratorTimeoutSecs,
          triggerTimeoutSecs: cfg.triggerTimeoutSecs,
          resultsPrefix: fleet.resultsPrefix,
        }),
      ),
      definitionSubstitutions: {
        [SUBSTITUTIONS.migrator]: migrator.functionArn,
        [SUBSTITUTIONS.trigger]: trigger.functionArn,
        [SUBSTITUTIONS.bucket]: bucket.bucketName,
      },
      role: this.role,
      // Failed states only, without their data (target names, error messages): the per-target
      // results hold those, and ALL would log every transition of every child execution.
      logs: { destination: this.logGroup, level: sfn.LogLevel.ERROR, includeExecutionData: false },
      tracingEnabled: false,
    });

    // The migrator: write its per-invocation results, read the targets' secrets ----------------
    migrator.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [runs(`${RUN_KEYS.targets}*`)] }));
    kmsGrant(migrator, ['kms:GenerateDataKey']);
    if (fleet.secretPrefix !== undefined) {
      // The same prefix the migrator checks in code before it reads a target's secret.
      migrator.addEnvironment('FLEET_SECRET_PREFIX', fleet.secretPrefix);
      migrator.addToRolePolicy(
        new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [`${fleet.secretPrefix}*`] }),
      );
    }

    // The trigger: start and follow a run, write its items and summary, read the results -------
    trigger.addEnvironment('FLEET_STATE_MACHINE_ARN', machineArn);
    trigger.addEnvironment('FLEET_RESULTS_PREFIX', fleet.resultsPrefix);
    trigger.addEnvironment('FLEET_CANARY', String(fleet.canary));
    // The trigger validates the manifest, secrets included, before anything runs.
    if (fleet.secretPrefix !== undefined) trigger.addEnvironment('FLEET_SECRET_PREFIX', fleet.secretPrefix);
    const triggerAllow = (actions: string[], resources: string[], conditions?: Record<string, unknown>) =>
      trigger.addToRolePolicy(new iam.PolicyStatement({ actions, resources, conditions }));
    triggerAllow(['states:StartExecution'], [machineArn]);
    triggerAllow(['states:DescribeExecution', 'states:ListMapRuns'], [executions]);
    // The Distributed Map's progress counts while it runs.
    triggerAllow(['states:DescribeMapRun'], [mapRuns]);
    triggerAllow(['s3:PutObject', 's3:GetObject'], [bucket.arnForObjects(`${fleet.resultsPrefix}*`)]);
    triggerAllow(['s3:ListBucket'], [bucket.bucketArn], { StringLike: { 's3:prefix': [`${fleet.resultsPrefix}*`] } });
    kmsGrant(trigger, ['kms:Decrypt']);

    new cdk.CfnOutput(stack, 'FleetStateMachineArn', { value: this.stateMachine.stateMachineArn });
  }
}
