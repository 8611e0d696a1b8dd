import * as fs from 'node:fs';
import * as cdk from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as codecommit from 'aws-cdk-lib/aws-codecommit';
import * as codepipeline from 'aws-cdk-lib/aws-codepipeline';
import * as actions from 'aws-cdk-lib/aws-codepipeline-actions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as codestarNotifications from 'aws-cdk-lib/aws-codestarnotifications';
import { Construct } from 'constructs';
import { DeployConfig, fleetUserParameters, MigratorCommand } from './config';
import { Fleet } from './fleet';

/**
 * The operator policy's description: what holding it lets someone do. IAM grants only the
 * invoke; the migrator's ALLOWED_COMMANDS (`commands`) decides what an invocation may run,
 * for operators and the pipeline alike. deploy/README.md quotes the default's words.
 */
export function operatorPolicyDescription(commands: readonly MigratorCommand[]): string {
  const run = commands.filter((c) => !c.endsWith('-inline'));
  const inline = commands.filter((c) => c.endsWith('-inline')).map((c) => c.replace(/-inline$/, ''));
  const sql =
    inline.length === 0
      ? 'SQL runs only from an artifact in S3, never sent inline (no up-inline)'
      : `SQL sent inline runs with ${inline.join(', ')} (${inline.map((c) => `${c}-inline`).join(', ')})`;
  return (
    'lambda-migrate operators: invoke the migrator and nothing else. It runs only ' +
    `${run.length === 0 ? 'no command' : run.join(', ')} (its ALLOWED_COMMANDS); ${sql}.`
  );
}

/** The CloudWatch namespace of the Embedded Metric Format lines both functions print. */
export const METRICS_NAMESPACE = 'LambdaMigrate';

/**
 * The reports the trigger stores beside a pipeline artifact, as `<artifact key>.<suffix>` (the
 * runtime's `lambda::beside`); its role may write exactly these keys in the artifact bucket.
 */
export const REPORT_SUFFIXES = ['lint.json', 'review.html', 'review.json', 'plan.sql'] as const;

/** A checkov check the stack does not satisfy on purpose, and why (deploy/README.md has the same table). */
export interface CheckovSkip {
  /** The check's id, e.g. CKV_AWS_117. */
  readonly id: string;
  /** Why it does not apply; checkov prints it as the suppression comment. */
  readonly comment: string;
}

/** Every checkov check the stack suppresses, by id; each suppression in the template uses these words. */
export const CHECKOV_SKIPS = {
  bucketAccessLogs: {
    id: 'CKV_AWS_18',
    comment: 'Server access logs would need a second bucket (itself unlogged); use CloudTrail S3 data events to audit reads.',
  },
  logGroupKms: {
    id: 'CKV_AWS_158',
    comment: 'CloudWatch Logs encrypts at rest with a service key; the functions never log secrets, so a paid CMK adds nothing.',
  },
  envKms: {
    id: 'CKV_AWS_173',
    comment: 'No secret is in the environment (the migrator reads the password at run time); Lambda encrypts it at rest anyway.',
  },
  migratorDlq: {
    id: 'CKV_AWS_116',
    comment: 'Invoked synchronously only (trigger, operators); a failure goes back to the caller and raises the Errors alarm.',
  },
  triggerVpc: {
    id: 'CKV_AWS_117',
    comment: 'The trigger only calls the CodePipeline and Lambda APIs and touches no database; in a VPC it would need a NAT or endpoints.',
  },
  triggerConcurrency: {
    id: 'CKV_AWS_115',
    comment: 'The pipeline bounds its invocations (one per action execution); a reservation would take from the account pool.',
  },
  topicKms: {
    id: 'CKV_AWS_26',
    comment: 'Alarm and pipeline-failure notices carry no data; a CMK whose policy admits CloudWatch and CodeStar costs more than it protects.',
  },
} satisfies Record<string, CheckovSkip>;

/** Records checkov suppressions in a resource's template metadata, where checkov reads them. */
function skipChecks(construct: Construct, skips: readonly CheckovSkip[]): void {
  const res = construct.node.defaultChild as cdk.CfnResource;
  res.addMetadata('checkov', { skip: skips.map((s) => ({ id: s.id, comment: s.comment })) });
}

/** Props of {@link LambdaMigrateStack}. */
export interface LambdaMigrateStackProps extends cdk.StackProps {
  /** The validated deploy configuration (see `loadConfig`). */
  readonly config: DeployConfig;
}

/**
 * CodePipeline → trigger Lambda (outside the VPC) → migrator Lambda (inside the VPC) → MySQL/MariaDB,
 * with every IAM statement scoped to the resources it needs.
 */
export class LambdaMigrateStack extends cdk.Stack {
  /** The function that applies the migrations, inside the VPC. */
  readonly migrator: lambda.Function;
  /** The function CodePipeline invokes; it calls the migrator and reports the job's result. */
  readonly trigger: lambda.Function;
  /** The pipeline: source stage, then the trigger. */
  readonly pipeline: codepipeline.Pipeline;
  /** The bucket holding the pipeline's artifacts. */
  readonly artifactBucket: s3.Bucket;
  /** The artifact bucket's customer-managed key, when artifactEncryption=kms. */
  readonly artifactKey?: kms.Key;
  /** The S3 gateway endpoint, when createS3Endpoint=true. */
  readonly s3Endpoint?: ec2.CfnVPCEndpoint;
  /** Attach to an operator's user or role to let the laptop CLI invoke the migrator (`--via-lambda`), and nothing else. */
  readonly operatorPolicy: iam.ManagedPolicy;
  /** The Secrets Manager interface endpoint, when dbAuth is a secret and createSecretsManagerEndpoint is on. */
  readonly secretsEndpoint?: ec2.CfnVPCEndpoint;
  /** Where Lambda puts the trigger's asynchronous invocations that failed. */
  readonly triggerDeadLetters: sqs.Queue;
  /** The alarms: migrator Errors, trigger JobFailures (EMF), trigger dead letters. */
  readonly alarms: { readonly migratorErrors: cloudwatch.Alarm; readonly jobFailures: cloudwatch.Alarm; readonly deadLetters: cloudwatch.Alarm };
  /** The topic alarms and pipeline-failure notifications go to, when one is configured. */
  readonly alarmTopic?: sns.ITopic;
  /** The fleet state machine and its grants, when fleet=true. */
  readonly fleet?: Fleet;

  /** Builds the stack from a validated configuration. */
  constructor(scope: Construct, id: string, props: LambdaMigrateStackProps) {
    super(scope, id, props);
    const cfg = props.config;
    const architecture = cfg.architecture === 'arm64' ? lambda.Architecture.ARM_64 : lambda.Architecture.X86_64;
    const retention = cfg.logRetentionDays as logs.RetentionDays;

    // Artifact bucket --------------------------------------------------------------------------
    if (cfg.artifactEncryption === 'kms') {
      this.artifactKey = new kms.Key(this, 'ArtifactKey', {
        description: 'Encrypts the lambda-migrate pipeline artifacts',
        enableKeyRotation: true,
      });
    }
    this.artifactBucket = new s3.Bucket(this, 'ArtifactBucket', {
      encryption: this.artifactKey ? s3.BucketEncryption.KMS : s3.BucketEncryption.S3_MANAGED,
      encryptionKey: this.artifactKey,
      bucketKeyEnabled: this.artifactKey !== undefined,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      // An artifact overwritten or deleted during a run stays recoverable.
      versioned: true,
      // Old source revisions are never re-read once their run is over.
      lifecycleRules: [
        {
          expiration: cdk.Duration.days(90),
          noncurrentVersionExpiration: cdk.Duration.days(30),
          abortIncompleteMultipartUploadAfter: cdk.Duration.days(1),
        },
      ],
    });
    skipChecks(this.artifactBucket, [CHECKOV_SKIPS.bucketAccessLogs]);

    // Network ----------------------------------------------------------------------------------
    // Imported without a lookup so synthesis needs no AWS credentials. The function is given
    // its subnets explicitly, so the VPC's zone list and the subnets' route tables are never read.
    const vpc = ec2.Vpc.fromVpcAttributes(this, 'Vpc', { vpcId: cfg.vpcId, availabilityZones: cdk.Fn.getAzs() });
    cdk.Annotations.of(vpc).acknowledgeWarning(
      '@aws-cdk/aws-ec2:vpcAttributeIsListTokenavailabilityZones',
      'subnets are selected explicitly by id',
    );
    const subnets = cfg.subnetIds.map((id, i) => {
      const subnet = ec2.Subnet.fromSubnetId(this, `Subnet${i}`, id);
      cdk.Annotations.of(subnet).acknowledgeWarning('@aws-cdk/aws-ec2:noSubnetRouteTableId', 'route tables come from routeTableIds');
      return subnet;
    });
    // Immutable: the security group belongs to the user; the stack must not add rules to it.
    const securityGroup = ec2.SecurityGroup.fromSecurityGroupId(this, 'SecurityGroup', cfg.securityGroupId, {
      mutable: false,
    });
    if (cfg.createS3Endpoint) {
      this.s3Endpoint = new ec2.CfnVPCEndpoint(this, 'S3GatewayEndpoint', {
        vpcId: cfg.vpcId,
        serviceName: cdk.Fn.join('', ['com.amazonaws.', cdk.Aws.REGION, '.s3']),
        vpcEndpointType: 'Gateway',
        routeTableIds: [...cfg.routeTableIds],
      });
    }

    // Migrator ---------------------------------------------------------------------------------
    const migratorLogs = new logs.LogGroup(this, 'MigratorLogs', {
      retention,
    });
    skipChecks(migratorLogs, [CHECKOV_SKIPS.logGroupKms]);
    const migratorRole = new iam.Role(this, 'MigratorRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'lambda-migrate migrator: logs, VPC interfaces, database auth, artifact reads',
    });
    migratorLogs.grantWrite(migratorRole);
    this.grantVpcAccess(migratorRole, cfg);

    const migratorEnv: Record<string, string> = {
      DB_HOST: cfg.dbHost,
      DB_PORT: String(cfg.dbPort),
      DB_NAME: cfg.dbName,
      DB_USER: cfg.dbUser,
      MIGRATIONS_DIR: cfg.migrationsDir,
      MIGRATIONS_TABLE: cfg.migrationsTable,
      LOCK_TIMEOUT_SECS: String(cfg.lockTimeoutSecs),
      LOCK_WAIT_TIMEOUT_SECS: String(cfg.lockWaitTimeoutSecs),
      LOCK_WAIT_RETRIES: String(cfg.lockWaitRetries),
      // The migrator refuses any other command, whoever invokes it (the trigger or an operator).
      ALLOWED_COMMANDS: cfg.migratorCommands.join(','),
    };
    switch (cfg.dbAuth.kind) {
      case 'secret':
        // Read at run time through GetSecretValue: no password and no {{resolve:...}} reference
        // in the function's configuration, and a rotated secret is used from the next run on.
        migratorEnv.DB_SECRET_ARN = cfg.dbAuth.secretArn;
        migratorEnv.DB_SECRET_FIELD = cfg.dbAuth.jsonField;
        this.grantSecretRead(migratorRole, cfg.dbAuth.secretArn, cfg.dbAuth.kmsKeyArn);
        break;
      case 'iam':
        migratorEnv.DB_IAM_AUTH = 'true';
        migratorRole.addToPolicy(
          new iam.PolicyStatement({
            actions: ['rds-db:connect'],
            resources: [
              this.formatArn({
                service: 'rds-db',
                resource: 'dbuser',
                resourceName: `${cfg.dbAuth.resourceId}/${cfg.dbUser}`,
                arnFormat: cdk.ArnFormat.COLON_RESOURCE_NAME,
              }),
            ],
          }),
        );
        break;
    }
    // The migrator reads secrets at run time: the database's, and with a fleet the targets'.
    if ((cfg.dbAuth.kind === 'secret' && cfg.dbAuth.createEndpoint) || cfg.fleet?.createSecretsEndpoint === true) {
      this.secretsEndpoint = this.secretsManagerEndpoint(cfg, vpc);
    }
    if (cfg.dbTls !== undefined) migratorEnv.DB_TLS = cfg.dbTls;
    if (cfg.deadlineMarginSecs !== undefined) migratorEnv.DEADLINE_MARGIN_SECS = String(cfg.deadlineMarginSecs);
    if (cfg.killMarginSecs !== undefined) migratorEnv.KILL_MARGIN_SECS = String(cfg.killMarginSecs);
    if (cfg.dbCaBundle !== undefined) migratorEnv.DB_CA_BUNDLE = cfg.dbCaBundle;
    if (cfg.fetchMode !== undefined) migratorEnv.FETCH_MODE = cfg.fetchMode;

    if (cfg.migratorFetchesArtifact) {
      migratorRole.addToPolicy(
        new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [this.artifactBucket.arnForObjects('*')] }),
      );
      if (this.artifactKey) {
        migratorRole.addToPolicy(new iam.PolicyStatement({ actions: ['kms:Decrypt'], resources: [this.artifactKey.keyArn] }));
      }
    }

    // What both functions are: a Rust `bootstrap` on Amazon Linux 2023, logging JSON, never
    // retried by Lambda (a retry would run the migrations again: the migrator is called
    // synchronously, the trigger asynchronously by CodePipeline).
    const rustFunction = (key: string, path: string) => ({
      runtime: lambda.Runtime.PROVIDED_AL2023,
      handler: 'bootstrap',
      architecture,
      code: lambda.Code.fromAsset(codePath(key, path)),
      loggingFormat: lambda.LoggingFormat.JSON,
      retryAttempts: 0,
    });

    this.migrator = new lambda.Function(this, 'Migrator', {
      ...rustFunction('migratorCode', cfg.migratorCode),
      description: 'Applies sql-migrate migrations from the pipeline artifact to the database',
      role: migratorRole,
      memorySize: cfg.migratorMemoryMb,
      timeout: cdk.Duration.seconds(cfg.migratorTimeoutSecs),
      environment: migratorEnv,
      vpc,
      vpcSubnets: { subnets },
      securityGroups: [securityGroup],
      logGroup: migratorLogs,
      reservedConcurrentExecutions: cfg.migratorReservedConcurrency,
    });
    skipChecks(this.migrator, [CHECKOV_SKIPS.migratorDlq, CHECKOV_SKIPS.envKms]);
    if (cfg.caBundleLayerArn !== undefined) {
      this.migrator.addLayers(lambda.LayerVersion.fromLayerVersionArn(this, 'CaBundleLayer', cfg.caBundleLayerArn));
    }

    // Trigger ----------------------------------------------------------------------------------
    const triggerLogs = new logs.LogGroup(this, 'TriggerLogs', {
      retention,
    });
    skipChecks(triggerLogs, [CHECKOV_SKIPS.logGroupKms]);
    // CodePipeline invokes the trigger asynchronously: an invocation that fails (a crash or a
    // timeout before it reported the job) lands here instead of vanishing. The event holds the
    // job's short-lived artifact credentials, hence encryption and TLS only.
    this.triggerDeadLetters = new sqs.Queue(this, 'TriggerDeadLetters', {
      // The AWS managed key (alias/aws/sqs): its key policy admits Lambda's delivery without a grant.
      encryption: sqs.QueueEncryption.KMS_MANAGED,
      enforceSSL: true,
      retentionPeriod: cdk.Duration.days(14),
    });
    const triggerRole = new iam.Role(this, 'TriggerRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'lambda-migrate trigger: logs, invoking the migrator, reporting the pipeline job',
    });
    triggerLogs.grantWrite(triggerRole);
    // Only the unqualified migrator: the trigger never calls a version or alias.
    triggerRole.addToPolicy(
      new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [this.migrator.functionArn] }),
    );
    // The trigger stores its lint report beside the artifact (`<artifact key>.lint.json`, with
    // its own role: the job's artifact credentials only read). It may write those keys and
    // nothing else: never an artifact, never a read.
    triggerRole.addToPolicy(
      new iam.PolicyStatement({
        actions: ['s3:PutObject'],
        resources: REPORT_SUFFIXES.map((suffix) => this.artifactBucket.arnForObjects(`*.${suffix}`)),
      }),
    );
    if (this.artifactKey) {
      // SSE-KMS: writing an object asks KMS for a data key; only through S3, for this bucket.
      triggerRole.addToPolicy(
        new iam.PolicyStatement({
          actions: ['kms:GenerateDataKey'],
          resources: [this.artifactKey.keyArn],
          conditions: { StringEquals: { 'kms:ViaService': `s3.${this.region}.amazonaws.com` } },
        }),
      );
    }

    this.trigger = new lambda.Function(this, 'Trigger', {
      ...rustFunction('triggerCode', cfg.triggerCode),
      description: 'CodePipeline job worker: invokes the migrator and reports success or failure',
      role: triggerRole,
      memorySize: 128,
      timeout: cdk.Duration.seconds(cfg.triggerTimeoutSecs),
      environment: {
        FunctionName: this.migrator.functionName,
        MIGRATOR_TIMEOUT_SECS: String(cfg.migratorTimeoutSecs),
        // The trigger validates the same folder the migrator applies.
        MIGRATIONS_DIR: cfg.migrationsDir,
        // The trigger lints every job; findings at or above this fail it before the migrator runs.
        LINT_FAIL_ON: cfg.lintFailOn,
      },
      logGroup: triggerLogs,
      deadLetterQueue: this.triggerDeadLetters,
    });
    skipChecks(this.trigger, [CHECKOV_SKIPS.triggerVpc, CHECKOV_SKIPS.triggerConcurrency, CHECKOV_SKIPS.envKms]);

    // Fleet (opt-in) ----------------------------------------------------------------------------
    if (cfg.fleet !== undefined) {
      this.fleet = new Fleet(this, 'Fleet', {
        config: cfg,
        fleet: cfg.fleet,
        migrator: this.migrator,
        trigger: this.trigger,
        bucket: this.artifactBucket,
        bucketKey: this.artifactKey,
      });
      skipChecks(this.fleet.logGroup, [CHECKOV_SKIPS.logGroupKms]);
    }

    // Pipeline ---------------------------------------------------------------------------------
    const sourceOutput = new codepipeline.Artifact('Source');
    const sourceAction =
      cfg.source.kind === 'codecommit'
        ? new actions.CodeCommitSourceAction({
            actionName: 'Source',
            repository: codecommit.Repository.fromRepositoryName(this, 'Repository', cfg.source.repositoryName),
            branch: cfg.source.branch,
            output: sourceOutput,
          })
        : new actions.CodeStarConnectionsSourceAction({
            actionName: 'Source',
            connectionArn: cfg.source.connectionArn,
            owner: cfg.source.owner,
            repo: cfg.source.repo,
            branch: cfg.source.branch,
            output: sourceOutput,
          });

    // Without UserParameters the trigger runs `up` on the stack's database; with fleetManifest,
    // every execution is a fleet run of that manifest (uploaded by the operator).
    const migrateParams: Record<string, unknown> = {
      ...(cfg.fleet?.manifest !== undefined ? fleetUserParameters(cfg.fleet.manifest) : {}),
    };
    const migrate = new actions.LambdaInvokeAction({
      actionName: 'Migrate',
      lambda: this.trigger,
      inputs: [sourceOutput],
      userParameters: Object.keys(migrateParams).length > 0 ? migrateParams : undefined,
    });
    this.pipeline = new codepipeline.Pipeline(this, 'Pipeline', {
      pipelineName: cfg.pipelineName,
      pipelineType: codepipeline.PipelineType.V2,
      artifactBucket: this.artifactBucket,
      restartExecutionOnUpdate: false,
      stages: [
        { stageName: 'Source', actions: [sourceAction] },
        ...(cfg.reviewedPipeline ? this.reviewStages(cfg, sourceOutput) : []),
        { stageName: 'Migrate', actions: [migrate] },
      ],
    });

    // Alarms and notifications -----------------------------------------------------------------
    this.alarmTopic = this.makeAlarmTopic(cfg);
    this.alarms = this.makeAlarms();
    if (this.alarmTopic !== undefined) {
      const action = new cwActions.SnsAction(this.alarmTopic);
      for (const alarm of Object.values(this.alarms)) alarm.addAlarmAction(action);
      this.pipeline.notifyOn('ExecutionFailed', this.alarmTopic, {
        events: [codepipeline.PipelineNotificationEvents.PIPELINE_EXECUTION_FAILED],
        detailType: codestarNotifications.DetailType.FULL,
      });
    }

    // Operator access ----------------------------------------------------------------------------
    // Unattached: an administrator attaches it to whoever runs `lambda-migrate --via-lambda`.
    // Qualified ARNs too, so a published version or alias of the migrator can be called.
    this.operatorPolicy = new iam.ManagedPolicy(this, 'OperatorPolicy', {
      description: operatorPolicyDescription(cfg.migratorCommands),
      statements: [
        new iam.PolicyStatement({
          actions: ['lambda:InvokeFunction'],
          resources: [this.migrator.functionArn, `${this.migrator.functionArn}:*`],
        }),
      ],
    });

    new cdk.CfnOutput(this, 'MigratorFunctionName', { value: this.migrator.functionName });
    new cdk.CfnOutput(this, 'TriggerFunctionName', { value: this.trigger.functionName });
    new cdk.CfnOutput(this, 'PipelineName', { value: this.pipeline.pipelineName });
    new cdk.CfnOutput(this, 'ArtifactBucketName', { value: this.artifactBucket.bucketName });
    if (this.alarmTopic !== undefined) new cdk.CfnOutput(this, 'AlarmTopicArn', { value: this.alarmTopic.topicArn });
    new cdk.CfnOutput(this, 'OperatorPolicyArn', {
      value: this.operatorPolicy.managedPolicyArn,
      description: 'Attach to an operator to allow lambda-migrate --via-lambda <MigratorFunctionName>',
    });
  }

  /**
   * The stages of a reviewed pipeline: `Plan` runs the trigger with `{"command":"plan"}` on the
   * same source artifact as `Migrate`; `Approve` shows what it found and waits for a person.
   */
  private reviewStages(cfg: DeployConfig, source: codepipeline.Artifact): codepipeline.StageProps[] {
    const plan = new actions.LambdaInvokeAction({
      actionName: 'Plan',
      lambda: this.trigger,
      inputs: [source],
      // `review`: the migrator asks the server what each pending ALTER would do, and the
      // trigger stores the page beside the artifact for the approver.
      userParameters: { command: 'plan', review: true },
      variablesNamespace: 'Plan',
    });
    const approve = new actions.ManualApprovalAction({
      actionName: 'Approve',
      additionalInformation:
        `Pending migrations: ${plan.variable('PendingCount')} (${plan.variable('PendingIds')}). ` +
        `Live review: ${plan.variable('ReviewVerdict')} (${plan.variable('ReviewCounts')}); open the review link. ` +
        `Lint: ${plan.variable('LintWarnings')} warning(s), ${plan.variable('LintNotices')} notice(s). ` +
        'Approving applies the migrations pending when the Migrate stage runs.',
      // The S3 console's page of the stored review: the approver signs in with their own
      // role (s3:GetObject on the bucket) and opens it; the bucket stays private.
      externalEntityLink: plan.variable('ReviewUrl'),
      notificationTopic:
        cfg.approvalTopicArn === undefined ? undefined : sns.Topic.fromTopicArn(this, 'ApprovalTopic', cfg.approvalTopicArn),
    });
    return [
      { stageName: 'Plan', actions: [plan] },
      { stageName: 'Approve', actions: [approve] },
    ];
  }

  /** Lets the migrator read the one secret, and decrypt it through Secrets Manager when a CMK is named. */
  private grantSecretRead(role: iam.Role, secretArn: string, kmsKeyArn: string | undefined): void {
    role.addToPolicy(new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [secretArn] }));
    if (kmsKeyArn === undefined) return;
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['kms:Decrypt'],
        resources: [kmsKeyArn],
        conditions: {
          StringEquals: {
            'kms:ViaService': `secretsmanager.${this.region}.${this.urlSuffix}`,
            'kms:EncryptionContext:SecretARN': secretArn,
          },
        },
      }),
    );
  }

  /**
   * A Secrets Manager interface endpoint in the migrator's subnets with private DNS, so the SDK's
   * usual host name reaches it without a NAT; its own security group admits HTTPS from the migrator's.
   */
  private secretsManagerEndpoint(cfg: DeployConfig, vpc: ec2.IVpc): ec2.CfnVPCEndpoint {
    const group = new ec2.SecurityGroup(this, 'SecretsEndpointSecurityGroup', {
      vpc,
      description: 'lambda-migrate Secrets Manager endpoint: HTTPS from the migrator only',
      allowAllOutbound: false,
    });
    group.addIngressRule(ec2.Peer.securityGroupId(cfg.securityGroupId), ec2.Port.tcp(443), 'HTTPS from the migrator');
    return new ec2.CfnVPCEndpoint(this, 'SecretsManagerEndpoint', {
      vpcId: cfg.vpcId,
      serviceName: cdk.Fn.join('', ['com.amazonaws.', cdk.Aws.REGION, '.secretsmanager']),
      vpcEndpointType: 'Interface',
      subnetIds: [...cfg.subnetIds],
      securityGroupIds: [group.securityGroupId],
      privateDnsEnabled: true,
    });
  }

  /** The given topic, a new one, or none; a new one admits CloudWatch alarms and CodeStar Notifications of this account. */
  private makeAlarmTopic(cfg: DeployConfig): sns.ITopic | undefined {
    if (cfg.alarmTopic.kind === 'existing') return sns.Topic.fromTopicArn(this, 'AlarmTopic', cfg.alarmTopic.arn);
    if (cfg.alarmTopic.kind === 'none') return undefined;
    const topic = new sns.Topic(this, 'AlarmTopic', {
      displayName: 'lambda-migrate alarms',
      enforceSSL: true,
    });
    skipChecks(topic, [CHECKOV_SKIPS.topicKms]);
    topic.addToResourcePolicy(
      new iam.PolicyStatement({
        actions: ['sns:Publish'],
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        resources: [topic.topicArn],
        conditions: { StringEquals: { 'aws:SourceAccount': this.account } },
      }),
    );
    return topic;
  }

  /**
   * Alarms that fire on one bad event in 5 minutes and stay quiet without data: the migrator's
   * Lambda `Errors`, the trigger's `JobFailures` (an EMF metric it prints), and dead letters.
   */
  private makeAlarms(): LambdaMigrateStack['alarms'] {
    const period = cdk.Duration.minutes(5);
    const alarm = (id: string, metric: cloudwatch.IMetric, description: string) =>
      new cloudwatch.Alarm(this, id, {
        metric,
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: description,
      });
    return {
      migratorErrors: alarm(
        'MigratorErrorsAlarm',
        this.migrator.metricErrors({ period, statistic: cloudwatch.Stats.SUM }),
        'The lambda-migrate migrator failed (function error or timeout); see its log group.',
      ),
      jobFailures: alarm(
        'JobFailuresAlarm',
        new cloudwatch.Metric({
          namespace: METRICS_NAMESPACE,
          metricName: 'JobFailures',
          dimensionsMap: { FunctionName: this.trigger.functionName },
          statistic: cloudwatch.Stats.SUM,
          period,
        }),
        'The lambda-migrate trigger reported a pipeline job as failed; see the pipeline execution.',
      ),
      deadLetters: alarm(
        'TriggerDeadLettersAlarm',
        this.triggerDeadLetters.metricApproximateNumberOfMessagesVisible({ period, statistic: cloudwatch.Stats.MAXIMUM }),
        'A trigger invocation failed without reporting its pipeline job; the event is in the dead-letter queue.',
      ),
    };
  }

  /** Grants what Lambda needs to attach the migrator to the VPC, scoped unless told otherwise. */
  private grantVpcAccess(role: iam.Role, cfg: DeployConfig): void {
    if (cfg.vpcAccessPolicy === 'managed') {
      role.addManagedPolicy(iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AWSLambdaVPCAccessExecutionRole'));
      return;
    }
    const eni = this.formatArn({ service: 'ec2', resource: 'network-interface', resourceName: '*' });
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['ec2:CreateNetworkInterface'],
        resources: [
          eni,
          ...cfg.subnetIds.map((id) => this.formatArn({ service: 'ec2', resource: 'subnet', resourceName: id })),
          this.formatArn({ service: 'ec2', resource: 'security-group', resourceName: cfg.securityGroupId }),
        ],
      }),
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['ec2:DeleteNetworkInterface', 'ec2:AssignPrivateIpAddresses', 'ec2:UnassignPrivateIpAddresses'],
        resources: [eni],
      }),
    );
    // Describe calls have no resource-level permissions in IAM.
    role.addToPolicy(
      new iam.PolicyStatement({ actions: ['ec2:DescribeNetworkInterfaces', 'ec2:DescribeSubnets'], resources: ['*'] }),
    );
  }
}

/** Checks a code path exists, so a missing build fails synthesis with a message that says what to run. */
function codePath(key: string, p: string): string {
  if (!fs.existsSync(p)) {
    throw new Error(
      `${key}: ${p} does not exist. Build it with scripts/package-lambdas (cargo lambda build --release --output-format zip), or pass -c ${key}=PATH`,
    );
  }
  return p;
}
