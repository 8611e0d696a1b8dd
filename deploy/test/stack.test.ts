import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import * as cdk from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { MIGRATOR_COMMANDS } from '../lib/config';
import { CHECKOV_SKIPS, CheckovSkip, LambdaMigrateStack, operatorPolicyDescription } from '../lib/stack';
import { asList, DEPLOY_DIR, overbroad, Statement, statements, synth } from './helpers';

/** Logical ids of the stack's main resources. */
function ids(stack: LambdaMigrateStack) {
  const id = (c: { node: { defaultChild?: unknown } }) => stack.getLogicalId(c.node.defaultChild as cdk.CfnElement);
  return {
    migrator: id(stack.migrator),
    trigger: id(stack.trigger),
    migratorRole: id(stack.migrator.role as unknown as { node: { defaultChild?: unknown } }),
    triggerRole: id(stack.trigger.role as unknown as { node: { defaultChild?: unknown } }),
    bucket: id(stack.artifactBucket),
    operatorPolicy: id(stack.operatorPolicy),
    deadLetters: id(stack.triggerDeadLetters),
    secretsEndpointGroup: (() => {
      const group = stack.node.tryFindChild('SecretsEndpointSecurityGroup');
      return group === undefined ? undefined : id(group as unknown as { node: { defaultChild?: unknown } });
    })(),
  };
}

function fnProps(template: Template, logicalId: string): Record<string, any> {
  return template.findResources('AWS::Lambda::Function')[logicalId].Properties;
}

/** Statements attached to one role, by the role's logical id. */
function roleStatements(template: Template, roleId: string) {
  return statements(template)
    .filter((s) => s.roles.some((r) => JSON.stringify(r) === JSON.stringify({ Ref: roleId })))
    .map((s) => s.statement);
}

/** The pipeline's stages as synthesized. */
function stages(template: Template): { Name: string; Actions: Record<string, any>[] }[] {
  const pipelines = Object.values(template.findResources('AWS::CodePipeline::Pipeline'));
  assert.equal(pipelines.length, 1);
  return pipelines[0].Properties.Stages;
}

describe('functions', () => {
  it('run on provided.al2023 with handler bootstrap, x86_64 by default', () => {
    const { stack, template } = synth();
    const { migrator, trigger } = ids(stack);
    for (const id of [migrator, trigger]) {
      const p = fnProps(template, id);
      assert.equal(p.Runtime, 'provided.al2023');
      assert.equal(p.Handler, 'bootstrap');
      assert.deepEqual(p.Architectures, ['x86_64']);
    }
    assert.equal(template.findResources('AWS::Lambda::Function').constructor, Object);
    assert.equal(Object.keys(template.findResources('AWS::Lambda::Function')).length, 2);
  });

  it('switch to arm64 with the architecture context value', () => {
    const { stack, template } = synth({ architecture: 'arm64' });
    const { migrator, trigger } = ids(stack);
    assert.deepEqual(fnProps(template, migrator).Architectures, ['arm64']);
    assert.deepEqual(fnProps(template, trigger).Architectures, ['arm64']);
  });

  it('put the migrator in the given subnets and security group, and the trigger outside any VPC', () => {
    const { stack, template } = synth();
    const { migrator, trigger } = ids(stack);
    assert.deepEqual(fnProps(template, migrator).VpcConfig, {
      SubnetIds: ['subnet-0aaaaaaaaaaaaaaa1', 'subnet-0bbbbbbbbbbbbbbb2'],
      SecurityGroupIds: ['sg-0ccccccccccccccc3'],
    });
    assert.equal(fnProps(template, trigger).VpcConfig, undefined);
    // The user's security group is imported read-only: no ingress or egress rules are added to it.
    // The only group the stack makes is the Secrets Manager endpoint's own.
    assert.deepEqual(Object.keys(template.findResources('AWS::EC2::SecurityGroup')), [ids(stack).secretsEndpointGroup]);
    assert.equal(Object.keys(template.findResources('AWS::EC2::SecurityGroupEgress')).length, 0);
    assert.equal(Object.keys(template.findResources('AWS::EC2::SecurityGroupIngress')).length, 0);
  });

  it('have the trigger time out later than the migrator', () => {
    for (const ctx of [{}, { migratorTimeoutSecs: '840' }, { migratorTimeoutSecs: 120, triggerTimeoutSecs: 121 }]) {
      const { stack, template } = synth(ctx);
      const { migrator, trigger } = ids(stack);
      const m = fnProps(template, migrator).Timeout as number;
      const t = fnProps(template, trigger).Timeout as number;
      assert.ok(t > m, `trigger ${t}s must exceed migrator ${m}s for ${JSON.stringify(ctx)}`);
      assert.ok(t <= 900);
      assert.equal(fnProps(template, trigger).Environment.Variables.MIGRATOR_TIMEOUT_SECS, String(m));
    }
  });

  it('do not retry asynchronous invocations', () => {
    const { stack, template } = synth();
    const { migrator, trigger } = ids(stack);
    for (const fn of [trigger, migrator]) {
      template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
        FunctionName: { Ref: fn },
        Qualifier: '$LATEST',
        MaximumRetryAttempts: 0,
      });
    }
  });

  it('log as JSON to their own log groups with retention', () => {
    const { stack, template } = synth({ logRetentionDays: 14 });
    const { migrator, trigger } = ids(stack);
    const groups = template.findResources('AWS::Logs::LogGroup');
    assert.equal(Object.keys(groups).length, 2);
    for (const g of Object.values(groups)) assert.equal(g.Properties.RetentionInDays, 14);
    for (const id of [migrator, trigger]) {
      const cfg = fnProps(template, id).LoggingConfig;
      assert.equal(cfg.LogFormat, 'JSON');
      assert.ok(Object.keys(groups).includes(cfg.LogGroup.Ref), `${id} logs to a stack log group`);
    }
    // No log-retention custom resource (it would bring its own broadly-privileged Lambda).
    assert.equal(Object.keys(template.findResources('Custom::LogRetention')).length, 0);
  });

  it('pass lock-wait and deadline settings to the migrator', () => {
    const { stack, template } = synth({ lockWaitTimeoutSecs: '5', lockWaitRetries: 0, deadlineMarginSecs: '60', killMarginSecs: 10 });
    const env = fnProps(template, ids(stack).migrator).Environment.Variables;
    assert.equal(env.LOCK_WAIT_TIMEOUT_SECS, '5');
    assert.equal(env.LOCK_WAIT_RETRIES, '0');
    assert.equal(env.DEADLINE_MARGIN_SECS, '60');
    assert.equal(env.KILL_MARGIN_SECS, '10');
  });

  it('give the migrator its database settings and the trigger the migrator name', () => {
    const { stack, template } = synth({ dbPort: '3307', lockTimeoutSecs: '30' });
    const { migrator, trigger } = ids(stack);
    const env = fnProps(template, migrator).Environment.Variables;
    assert.equal(env.DB_HOST, 'db.internal.example.com');
    assert.equal(env.DB_PORT, '3307');
    assert.equal(env.DB_NAME, 'app');
    assert.equal(env.DB_USER, 'migrator');
    assert.equal(env.MIGRATIONS_DIR, 'migrations');
    assert.equal(env.MIGRATIONS_TABLE, 'gorp_migrations');
    assert.equal(env.LOCK_TIMEOUT_SECS, '30');
    assert.equal(env.LOCK_WAIT_TIMEOUT_SECS, '10');
    assert.equal(env.LOCK_WAIT_RETRIES, '3');
    // Unset margins leave the migrator's defaults, which scale with its timeout.
    assert.equal(env.DEADLINE_MARGIN_SECS, undefined);
    assert.equal(env.KILL_MARGIN_SECS, undefined);
    assert.equal(env.DB_IAM_AUTH, undefined);
    // The migrator reads the secret at run time: only its ARN and JSON key are configured.
    assert.equal(env.DB_SECRET_ARN, 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:app-db-AbCdEf');
    assert.equal(env.DB_SECRET_FIELD, 'password');
    assert.equal(env.DB_PASSWORD, undefined);
    assert.equal(env.FETCH_MODE, undefined);
    const triggerEnv = fnProps(template, trigger).Environment.Variables;
    assert.deepEqual(triggerEnv.FunctionName, { Ref: migrator });
    assert.equal(triggerEnv.MIGRATIONS_DIR, 'migrations');
    assert.equal(triggerEnv.DB_PASSWORD, undefined, 'the trigger never sees the password');
  });

  it('tell the migrator which commands it runs: by default all but down, redo, skip and SQL sent inline', () => {
    let { stack, template } = synth();
    assert.equal(fnProps(template, ids(stack).migrator).Environment.Variables.ALLOWED_COMMANDS, 'verify,plan,status,up,resolve');
    assert.equal(fnProps(template, ids(stack).trigger).Environment.Variables.ALLOWED_COMMANDS, undefined);
    ({ stack, template } = synth({ migratorCommands: 'UP, status ,Down,up,  redo, UP-inline' }));
    assert.equal(fnProps(template, ids(stack).migrator).Environment.Variables.ALLOWED_COMMANDS, 'up,status,down,redo,up-inline');
  });

  it('pass the migrations folder to both functions and the fetch mode to the migrator', () => {
    const { stack, template } = synth({ migrationsDir: 'db/migrations', fetchMode: 'selective' });
    const { migrator, trigger } = ids(stack);
    assert.equal(fnProps(template, migrator).Environment.Variables.MIGRATIONS_DIR, 'db/migrations');
    assert.equal(fnProps(template, trigger).Environment.Variables.MIGRATIONS_DIR, 'db/migrations');
    assert.equal(fnProps(template, migrator).Environment.Variables.FETCH_MODE, 'selective');
  });

  it('use IAM auth with TLS and rds-db:connect scoped to the one database user', () => {
    const { stack, template } = synth({
      dbSecretArn: undefined,
      dbIamAuth: 'true',
      dbInstanceResourceId: 'db-ABCDEFGHIJKLMNOPQRSTUVWXY1',
    });
    const { migrator, migratorRole, triggerRole } = ids(stack);
    const env = fnProps(template, migrator).Environment.Variables;
    assert.equal(env.DB_IAM_AUTH, 'true');
    assert.equal(env.DB_TLS, 'required');
    assert.match(env.DB_CA_BUNDLE, /^\//);
    assert.equal(env.DB_PASSWORD, undefined);
    assert.equal(env.DB_SECRET_ARN, undefined);
    assert.equal(env.DB_SECRET_FIELD, undefined);
    const connect = roleStatements(template, migratorRole).filter((s) => asList(s.Action).includes('rds-db:connect'));
    assert.equal(connect.length, 1);
    assert.deepEqual(asList(connect[0].Action), ['rds-db:connect']);
    assert.deepEqual(asList(connect[0].Resource as unknown[]), [
      'arn:aws:rds-db:eu-west-1:123456789012:dbuser:db-ABCDEFGHIJKLMNOPQRSTUVWXY1/migrator',
    ]);
    const elsewhere = statements(template).filter(
      (s) => asList(s.statement.Action).includes('rds-db:connect') && !JSON.stringify(s.roles).includes(migratorRole),
    );
    assert.deepEqual(elsewhere, []);
    assert.ok(!JSON.stringify(roleStatements(template, triggerRole)).includes('rds-db'));
  });

  it('synthesize without warnings or errors', () => {
    for (const ctx of [
      {},
      { createS3Endpoint: true, routeTableIds: 'rtb-0ddddddddddddddd4', artifactEncryption: 'kms' },
      { reviewedPipeline: true, approvalTopicArn: 'arn:aws:sns:eu-west-1:123456789012:schema-approvals' },
      { createAlarmTopic: true, dbSecretKmsKeyArn: 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab' },
      { alarmTopicArn: 'arn:aws:sns:eu-west-1:123456789012:ops-alarms', migratorReservedConcurrency: 'none' },
    ]) {
      const { stack } = synth(ctx);
      Annotations.fromStack(stack).hasNoWarning('*', Match.anyValue());
      Annotations.fromStack(stack).hasNoError('*', Match.anyValue());
    }
  });

  it('fail synthesis with a clear message when the code has not been built', () => {
    assert.throws(() => synth({ migratorCode: '/nonexistent/target/lambda/migrator/bootstrap.zip' }), /migratorCode: .*package-lambdas/);
  });
});

describe('IAM', () => {
  for (const [name, ctx] of [
    ['secret auth, SSE-S3 artifacts', {}],
    ['secret auth with its own KMS key, created alarm topic', {
      dbSecretKmsKeyArn: 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
      createAlarmTopic: true,
    }],
    ['IAM auth, KMS artifacts, connection source, endpoint', {
      dbSecretArn: undefined,
      dbIamAuth: true,
      dbInstanceResourceId: 'cluster-ABCDEFGHIJKLMNOP',
      artifactEncryption: 'kms',
      repositoryName: undefined,
      connectionArn: 'arn:aws:codeconnections:eu-west-1:123456789012:connection/0a1b2c3d-aaaa-bbbb-cccc-0123456789ab',
      repository: 'example/app-schema',
      createS3Endpoint: true,
      routeTableIds: 'rtb-0ddddddddddddddd4',
      reviewedPipeline: true,
      approvalTopicArn: 'arn:aws:sns:eu-west-1:123456789012:schema-approvals',
    }],
  ] as const) {
    it(`uses Resource "*" only for actions IAM cannot scope (${name})`, () => {
      const { template } = synth(ctx as Record<string, unknown>);
      assert.ok(statements(template).length > 5, 'the template has IAM statements to check');
      assert.deepEqual(overbroad(template), []);
    });
  }

  it('the over-broad grant check catches "*" on a scopable action and service wildcards', () => {
    const { template } = synth({}, (stack) => {
      stack.migrator.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: ['*'] }));
      stack.trigger.addToRolePolicy(new iam.PolicyStatement({ actions: ['lambda:*'], resources: [stack.migrator.functionArn] }));
    });
    const found = overbroad(template);
    assert.equal(found.length, 2, found.join(' | '));
    assert.match(found.join('\n'), /s3:GetObject supports resource scoping but has Resource "\*"/);
    assert.match(found.join('\n'), /wildcard action lambda:\*/);
  });

  it('lets the trigger invoke only the migrator, and nothing but the operator policy invoke the migrator', () => {
    const { stack, template } = synth();
    const { migrator, trigger, triggerRole, operatorPolicy } = ids(stack);
    const invokes = statements(template).filter((s) => asList(s.statement.Action).includes('lambda:InvokeFunction'));
    const fromTrigger = invokes.filter((s) => JSON.stringify(s.roles).includes(triggerRole));
    assert.equal(fromTrigger.length, 1);
    assert.deepEqual(asList(fromTrigger[0].statement.Action), ['lambda:InvokeFunction']);
    assert.deepEqual(asList(fromTrigger[0].statement.Resource as unknown[]), [{ 'Fn::GetAtt': [migrator, 'Arn'] }]);
    // The operator policy is checked on its own below; the only other invoke grant is the pipeline's, on the trigger.
    const others = invokes.filter((s) => !JSON.stringify(s.roles).includes(triggerRole) && s.policy !== operatorPolicy);
    assert.ok(others.length > 0, 'the pipeline may invoke the trigger');
    for (const s of others) {
      assert.ok(!JSON.stringify(s.statement.Resource).includes(migrator), `${s.policy} may invoke the migrator`);
      assert.ok(JSON.stringify(s.statement.Resource).includes(trigger), `${s.policy} invokes something unexpected`);
    }
    // No resource policy lets anything else call the migrator.
    template.resourcePropertiesCountIs('AWS::Lambda::Permission', { FunctionName: Match.anyValue() }, 0);
  });

  it('offers operators a managed policy that may only invoke the migrator, and outputs its ARN', () => {
    const { stack, template } = synth();
    const { migrator, operatorPolicy } = ids(stack);
    const policies = template.findResources('AWS::IAM::ManagedPolicy');
    assert.deepEqual(Object.keys(policies), [operatorPolicy]);
    const props = policies[operatorPolicy].Properties;
    // Unattached: an administrator decides who is an operator.
    for (const key of ['Roles', 'Users', 'Groups']) assert.equal(props[key], undefined, key);
    assert.deepEqual(props.PolicyDocument.Statement, [
      {
        Effect: 'Allow',
        Action: 'lambda:InvokeFunction',
        Resource: [{ 'Fn::GetAtt': [migrator, 'Arn'] }, { 'Fn::Join': ['', [{ 'Fn::GetAtt': [migrator, 'Arn'] }, ':*']] }],
      },
    ]);
    const outputs = template.toJSON().Outputs;
    assert.deepEqual(outputs.OperatorPolicyArn.Value, { Ref: operatorPolicy });
    assert.deepEqual(outputs.MigratorFunctionName.Value, { Ref: migrator });
  });

  it('describes the operator policy as the migrator enforces it, in the words deploy/README.md quotes', () => {
    const description = (context = {}) => {
      const { stack, template } = synth(context);
      return template.findResources('AWS::IAM::ManagedPolicy')[ids(stack).operatorPolicy].Properties.Description;
    };
    // By default: read-only commands, resolve and up, and no SQL sent inline.
    const byDefault =
      'lambda-migrate operators: invoke the migrator and nothing else. It runs only verify, plan, status, up, ' +
      'resolve (its ALLOWED_COMMANDS); SQL runs only from an artifact in S3, never sent inline (no up-inline).';
    assert.equal(description(), byDefault);
    assert.equal(
      description({ migratorCommands: 'status,up,Up-Inline,down,redo-inline' }),
      'lambda-migrate operators: invoke the migrator and nothing else. It runs only status, up, down ' +
        '(its ALLOWED_COMMANDS); SQL sent inline runs with up, redo (up-inline, redo-inline).',
    );
    // The README says the same, and lists every word migratorCommands takes.
    const readme = fs
      .readFileSync(path.join(DEPLOY_DIR, 'README.md'), 'utf8')
      .replace(/^> /gm, '')
      .replace(/\s+/g, ' ');
    assert.ok(readme.includes(`"${byDefault}"`), 'deploy/README.md quotes the default operator policy');
    assert.ok(readme.includes(`Known commands: ${MIGRATOR_COMMANDS.map((c) => `\`${c}\``).join(', ')};`), 'known commands');
    assert.ok(operatorPolicyDescription(MIGRATOR_COMMANDS).length <= 1000, 'IAM limits a description to 1000 characters');
  });

  it('gives the trigger no database permission, and of S3 only writing its reports beside the artifacts', () => {
    const { stack, template } = synth({ artifactEncryption: 'kms' });
    const { triggerRole, bucket } = ids(stack);
    const sts = roleStatements(template, triggerRole);
    const actions = sts.flatMap((s) => asList(s.Action));
    assert.deepEqual(
      [...new Set(actions)].sort(),
      [
        'codepipeline:PutJobFailureResult',
        'codepipeline:PutJobSuccessResult',
        'kms:GenerateDataKey',
        'lambda:InvokeFunction',
        'logs:CreateLogStream',
        'logs:PutLogEvents',
        's3:PutObject',
        'sqs:SendMessage',
      ],
    );
    // s3:PutObject on the reports beside an artifact only (`<key>.lint.json`, the review's
    // `<key>.review.html` and `.review.json`): never an artifact itself, never a read.
    const s3 = sts.filter((s) => asList(s.Action).some((a) => a.startsWith('s3:')));
    assert.equal(s3.length, 1);
    assert.deepEqual(asList(s3[0].Action), ['s3:PutObject']);
    assert.deepEqual(asList(s3[0].Resource as unknown[]), [
      { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucket, 'Arn'] }, '/*.lint.json']] },
      { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucket, 'Arn'] }, '/*.plan.sql']] },
      { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucket, 'Arn'] }, '/*.review.html']] },
      { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucket, 'Arn'] }, '/*.review.json']] },
    ]);
    // The data key for SSE-KMS, only through S3.
    const keyId = stack.getLogicalId(stack.artifactKey!.node.defaultChild as cdk.CfnElement);
    const kmsSts = sts.filter((s) => asList(s.Action).some((a) => a.startsWith('kms:')));
    assert.equal(kmsSts.length, 1);
    assert.deepEqual(asList(kmsSts[0].Resource as unknown[]), [{ 'Fn::GetAtt': [keyId, 'Arn'] }]);
    assert.deepEqual(kmsSts[0].Condition, { StringEquals: { 'kms:ViaService': 's3.eu-west-1.amazonaws.com' } });
    // With SSE-S3 there is no key to ask.
    const plain = synth();
    const plainActions = roleStatements(plain.template, ids(plain.stack).triggerRole).flatMap((s) => asList(s.Action));
    assert.ok(plainActions.includes('s3:PutObject'));
    assert.ok(!plainActions.some((a) => a.startsWith('kms:')), plainActions.join(', '));
  });

  it('tells the trigger the lint severity that fails a job: error by default', () => {
    let { stack, template } = synth();
    assert.equal(fnProps(template, ids(stack).trigger).Environment.Variables.LINT_FAIL_ON, 'error');
    assert.equal(fnProps(template, ids(stack).migrator).Environment.Variables.LINT_FAIL_ON, undefined);
    ({ stack, template } = synth({ lintFailOn: 'warning' }));
    assert.equal(fnProps(template, ids(stack).trigger).Environment.Variables.LINT_FAIL_ON, 'warning');
  });

  it('lets the migrator read only the artifact objects, and decrypt only with the artifact key', () => {
    const { stack, template } = synth({ artifactEncryption: 'kms' });
    const { migratorRole, bucket } = ids(stack);
    const sts = roleStatements(template, migratorRole);
    const s3 = sts.filter((s) => asList(s.Action).some((a) => a.startsWith('s3:')));
    assert.equal(s3.length, 1);
    assert.deepEqual(asList(s3[0].Action), ['s3:GetObject']);
    assert.deepEqual(asList(s3[0].Resource as unknown[]), [{ 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucket, 'Arn'] }, '/*']] }]);
    const keyId = stack.getLogicalId(stack.artifactKey!.node.defaultChild as cdk.CfnElement);
    const kmsSts = sts.filter((s) => asList(s.Action).some((a) => a.startsWith('kms:')));
    assert.equal(kmsSts.length, 1);
    assert.deepEqual(asList(kmsSts[0].Action), ['kms:Decrypt']);
    assert.deepEqual(asList(kmsSts[0].Resource as unknown[]), [{ 'Fn::GetAtt': [keyId, 'Arn'] }]);
  });

  it('gives the migrator no KMS permission when the bucket uses SSE-S3, and no S3 at all when it does not fetch', () => {
    let { stack, template } = synth();
    let actions = roleStatements(template, ids(stack).migratorRole).flatMap((s) => asList(s.Action));
    assert.ok(actions.includes('s3:GetObject'));
    assert.ok(!actions.some((a) => a.startsWith('kms:')));
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
    });

    ({ stack, template } = synth({ migratorFetchesArtifact: 'false', artifactEncryption: 'kms' }));
    actions = roleStatements(template, ids(stack).migratorRole).flatMap((s) => asList(s.Action));
    assert.ok(!actions.some((a) => a.startsWith('s3:') || a.startsWith('kms:')), actions.join(', '));
  });

  it('scopes the VPC interface permissions to the given subnets and security group', () => {
    const { stack, template } = synth();
    const { migratorRole, triggerRole } = ids(stack);
    const create = roleStatements(template, migratorRole).find((s) => asList(s.Action).includes('ec2:CreateNetworkInterface'));
    assert.ok(create);
    assert.deepEqual(asList(create.Resource as string[]).sort(), [
      'arn:aws:ec2:eu-west-1:123456789012:network-interface/*',
      'arn:aws:ec2:eu-west-1:123456789012:security-group/sg-0ccccccccccccccc3',
      'arn:aws:ec2:eu-west-1:123456789012:subnet/subnet-0aaaaaaaaaaaaaaa1',
      'arn:aws:ec2:eu-west-1:123456789012:subnet/subnet-0bbbbbbbbbbbbbbb2',
    ]);
    const eniOnly = roleStatements(template, migratorRole).find((s) => asList(s.Action).includes('ec2:DeleteNetworkInterface'));
    assert.deepEqual(asList(eniOnly?.Resource as string[]), ['arn:aws:ec2:eu-west-1:123456789012:network-interface/*']);
    const roles = template.findResources('AWS::IAM::Role');
    assert.equal(roles[migratorRole].Properties.ManagedPolicyArns, undefined);
    assert.equal(roles[triggerRole].Properties.ManagedPolicyArns, undefined);
  });

  it('attaches AWSLambdaVPCAccessExecutionRole instead when vpcAccessPolicy=managed', () => {
    const { stack, template } = synth({ vpcAccessPolicy: 'managed' });
    const { migratorRole } = ids(stack);
    const arns = JSON.stringify(template.findResources('AWS::IAM::Role')[migratorRole].Properties.ManagedPolicyArns);
    assert.match(arns, /service-role\/AWSLambdaVPCAccessExecutionRole/);
    assert.ok(!roleStatements(template, migratorRole).some((s) => asList(s.Action).includes('ec2:CreateNetworkInterface')));
  });
});

describe('network', () => {
  it('creates an S3 gateway endpoint on the given route tables when asked', () => {
    const { template } = synth({ createS3Endpoint: 'true', routeTableIds: 'rtb-0ddddddddddddddd4,rtb-0eeeeeeeeeeeeeee5' });
    const gateways = Object.values(template.findResources('AWS::EC2::VPCEndpoint')).filter(
      (e) => e.Properties.VpcEndpointType === 'Gateway',
    );
    assert.equal(gateways.length, 1);
    template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
      VpcId: 'vpc-0123456789abcdef0',
      VpcEndpointType: 'Gateway',
      RouteTableIds: ['rtb-0ddddddddddddddd4', 'rtb-0eeeeeeeeeeeeeee5'],
      ServiceName: { 'Fn::Join': ['', ['com.amazonaws.', { Ref: 'AWS::Region' }, '.s3']] },
    });
  });

  it('creates no endpoint, NAT gateway or VPC resources with IAM auth', () => {
    const { template } = synth({ dbSecretArn: undefined, dbIamAuth: true, dbInstanceResourceId: 'db-ABC' });
    template.resourceCountIs('AWS::EC2::SecurityGroup', 0);
    for (const type of ['AWS::EC2::VPCEndpoint', 'AWS::EC2::NatGateway', 'AWS::EC2::VPC', 'AWS::EC2::Subnet', 'AWS::EC2::EIP']) {
      template.resourceCountIs(type, 0);
    }
  });
});

describe('pipeline', () => {
  it('runs a CodeCommit source, then invokes the trigger with the source artifact', () => {
    const { stack, template } = synth({ branch: 'release' });
    const { trigger } = ids(stack);
    template.hasResourceProperties('AWS::CodePipeline::Pipeline', {
      PipelineType: 'V2',
      Stages: [
        {
          Name: 'Source',
          Actions: [
            Match.objectLike({
              ActionTypeId: { Category: 'Source', Owner: 'AWS', Provider: 'CodeCommit', Version: '1' },
              Configuration: Match.objectLike({ RepositoryName: 'app-schema', BranchName: 'release' }),
              OutputArtifacts: [{ Name: 'Source' }],
            }),
          ],
        },
        {
          Name: 'Migrate',
          Actions: [
            Match.objectLike({
              ActionTypeId: { Category: 'Invoke', Owner: 'AWS', Provider: 'Lambda', Version: '1' },
              Configuration: Match.objectLike({ FunctionName: { Ref: trigger } }),
              InputArtifacts: [{ Name: 'Source' }],
            }),
          ],
        },
      ],
    });
  });

  it('has no Plan or Approve stage unless reviewedPipeline=true', () => {
    for (const ctx of [{}, { reviewedPipeline: 'false' }]) {
      assert.deepEqual(stages(synth(ctx).template).map((st) => st.Name), ['Source', 'Migrate']);
    }
  });

  it('with reviewedPipeline=true, plans, waits for approval showing the plan, then migrates the same artifact', () => {
    const { stack, template } = synth({ reviewedPipeline: true });
    const { trigger } = ids(stack);
    const st = stages(template);
    assert.deepEqual(st.map((s) => s.Name), ['Source', 'Plan', 'Approve', 'Migrate']);
    const [source, plan, approve, migrate] = st.map((s) => {
      assert.equal(s.Actions.length, 1, s.Name);
      return s.Actions[0];
    });
    assert.deepEqual(plan.ActionTypeId, { Category: 'Invoke', Owner: 'AWS', Provider: 'Lambda', Version: '1' });
    assert.deepEqual(plan.Configuration.FunctionName, { Ref: trigger });
    assert.deepEqual(JSON.parse(plan.Configuration.UserParameters), { command: 'plan', review: true });
    assert.equal(plan.Namespace, 'Plan');
    // Plan and Migrate read the artifact the source stage produced for this execution.
    assert.deepEqual(plan.InputArtifacts, source.OutputArtifacts);
    assert.deepEqual(migrate.InputArtifacts, source.OutputArtifacts);
    assert.deepEqual(migrate.Configuration.FunctionName, { Ref: trigger });
    assert.equal(migrate.Configuration.UserParameters, undefined, 'Migrate runs the default command, up');
    assert.deepEqual(approve.ActionTypeId, { Category: 'Approval', Owner: 'AWS', Provider: 'Manual', Version: '1' });
    assert.match(approve.Configuration.CustomData, /#\{Plan\.PendingCount\}/);
    assert.match(approve.Configuration.CustomData, /#\{Plan\.PendingIds\}/);
    assert.match(approve.Configuration.CustomData, /#\{Plan\.LintWarnings\}/);
    assert.match(approve.Configuration.CustomData, /#\{Plan\.ReviewVerdict\}/);
    assert.match(approve.Configuration.CustomData, /#\{Plan\.ReviewCounts\}/);
    // The review link opens the stored page in the S3 console, behind the approver's sign-in.
    assert.equal(approve.Configuration.ExternalEntityLink, '#{Plan.ReviewUrl}');
    assert.ok(approve.Configuration.CustomData.length <= 500, 'CodePipeline limits CustomData to 500 characters');
    assert.equal(approve.Configuration.NotificationArn, undefined);
    template.resourceCountIs('AWS::SNS::Topic', 0);
  });

  it('notifies the approval topic, and lets only the approval action publish to it', () => {
    const topic = 'arn:aws:sns:eu-west-1:123456789012:schema-approvals';
    const { template } = synth({ reviewedPipeline: 'true', approvalTopicArn: topic });
    const approve = stages(template).find((s) => s.Name === 'Approve')!.Actions[0];
    assert.equal(approve.Configuration.NotificationArn, topic);
    const publish = statements(template).filter((s) => asList(s.statement.Action).some((a) => a.startsWith('sns:')));
    assert.equal(publish.length, 1);
    assert.deepEqual(asList(publish[0].statement.Action), ['sns:Publish']);
    assert.deepEqual(asList(publish[0].statement.Resource as unknown[]), [topic]);
    assert.deepEqual(overbroad(template), []);
  });

  it('can use a CodeStar connection for GitHub or Bitbucket', () => {
    const arn = 'arn:aws:codestar-connections:eu-west-1:123456789012:connection/0a1b2c3d-aaaa-bbbb-cccc-0123456789ab';
    const { template } = synth({ repositoryName: undefined, connectionArn: arn, repository: 'example/app-schema' });
    template.hasResourceProperties('AWS::CodePipeline::Pipeline', {
      Stages: Match.arrayWith([
        Match.objectLike({
          Name: 'Source',
          Actions: [
            Match.objectLike({
              ActionTypeId: Match.objectLike({ Provider: 'CodeStarSourceConnection' }),
              Configuration: Match.objectLike({ ConnectionArn: arn, FullRepositoryId: 'example/app-schema', BranchName: 'main' }),
            }),
          ],
        }),
      ]),
    });
    const useConnection = statements(template).filter((s) =>
      asList(s.statement.Action).some((a) => a.endsWith(':UseConnection')),
    );
    assert.ok(useConnection.length > 0);
    for (const s of useConnection) assert.deepEqual(asList(s.statement.Resource as unknown[]), [arn]);
  });

  it('stores artifacts (and the reports beside them) in a private, TLS-only bucket', () => {
    const { stack, template } = synth();
    const { bucket } = ids(stack);
    // Nothing grants anyone outside the account, or everyone, access to the bucket.
    for (const p of Object.values(template.findResources('AWS::S3::BucketPolicy'))) {
      for (const st of p.Properties.PolicyDocument.Statement) {
        if (st.Effect === 'Allow') assert.notDeepEqual(st.Principal, '*', JSON.stringify(st));
      }
    }
    template.hasResourceProperties('AWS::S3::Bucket', {
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: bucket },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });
});

const SECRET = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:app-db-AbCdEf';
const IAM_AUTH = { dbSecretArn: undefined, dbIamAuth: true, dbInstanceResourceId: 'db-ABCDEFGHIJKLMNOPQRSTUVWXY1' };
const SECRET_KEY = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const TOPIC = 'arn:aws:sns:eu-west-1:123456789012:ops-alarms';

/** Every Lambda function's environment variables in the template, by logical id. */
function environments(template: Template): [string, Record<string, unknown>][] {
  return Object.entries(template.findResources('AWS::Lambda::Function')).map(([id, r]) => [
    id,
    r.Properties.Environment?.Variables ?? {},
  ]);
}

describe('secrets at run time', () => {
  it('puts no password and no deploy-time secret reference in any function or anywhere in the template', () => {
    for (const ctx of [{}, { dbSecretField: '' }, IAM_AUTH, { createAlarmTopic: true, reviewedPipeline: true, artifactEncryption: 'kms' }]) {
      const { template } = synth(ctx);
      const envs = environments(template);
      assert.equal(envs.length, 2);
      for (const [fn, vars] of envs) {
        for (const [k, v] of Object.entries(vars)) {
          assert.doesNotMatch(k, /PASS(WORD)?|PWD|TOKEN/i, `${fn}.${k} for ${JSON.stringify(ctx)}`);
          assert.ok(!JSON.stringify(v).includes('{{resolve:'), `${fn}.${k} = ${JSON.stringify(v)}`);
        }
      }
      assert.ok(!JSON.stringify(template.toJSON()).includes('{{resolve:'), `a dynamic reference in ${JSON.stringify(ctx)}`);
    }
  });

  it('gives the migrator DB_SECRET_ARN and DB_SECRET_FIELD, empty for a plain-text secret', () => {
    const { stack, template } = synth({ dbSecretField: '' });
    const { migrator, trigger } = ids(stack);
    const env = fnProps(template, migrator).Environment.Variables;
    assert.equal(env.DB_SECRET_ARN, SECRET);
    assert.equal(env.DB_SECRET_FIELD, '');
    assert.equal(fnProps(template, trigger).Environment.Variables.DB_SECRET_ARN, undefined);
  });

  it('grants GetSecretValue on that one secret to the migrator only, and nothing else of Secrets Manager', () => {
    const { stack, template } = synth();
    const { migratorRole } = ids(stack);
    const sm = statements(template).filter((s) => asList(s.statement.Action).some((a) => a.startsWith('secretsmanager:')));
    assert.equal(sm.length, 1);
    assert.deepEqual(sm[0].roles, [{ Ref: migratorRole }]);
    assert.deepEqual(asList(sm[0].statement.Action), ['secretsmanager:GetSecretValue']);
    assert.deepEqual(asList(sm[0].statement.Resource as unknown[]), [SECRET]);
    // Without dbSecretKmsKeyArn the secret uses the AWS managed key: no KMS grant is needed.
    assert.ok(!roleStatements(template, migratorRole).some((s) => asList(s.Action).some((a) => a.startsWith('kms:'))));
    assert.deepEqual(overbroad(template), []);
  });

  it('grants kms:Decrypt on the secret key only through Secrets Manager and for that secret, when given', () => {
    const { stack, template } = synth({ dbSecretKmsKeyArn: SECRET_KEY });
    const kmsSts = roleStatements(template, ids(stack).migratorRole).filter((s) => asList(s.Action).some((a) => a.startsWith('kms:')));
    assert.equal(kmsSts.length, 1);
    const st = kmsSts[0] as Statement & { Condition: Record<string, Record<string, unknown>> };
    assert.deepEqual(asList(st.Action), ['kms:Decrypt']);
    assert.deepEqual(asList(st.Resource as unknown[]), [SECRET_KEY]);
    assert.equal(st.Condition.StringEquals['kms:EncryptionContext:SecretARN'], SECRET);
    assert.deepEqual(st.Condition.StringEquals['kms:ViaService'], {
      'Fn::Join': ['', ['secretsmanager.eu-west-1.', { Ref: 'AWS::URLSuffix' }]],
    });
  });

  it('creates a Secrets Manager interface endpoint with private DNS in the migrator subnets, reachable on 443 from its group only', () => {
    const { stack, template } = synth();
    const group = ids(stack).secretsEndpointGroup!;
    const endpoints = Object.values(template.findResources('AWS::EC2::VPCEndpoint'));
    assert.equal(endpoints.length, 1);
    assert.deepEqual(endpoints[0].Properties, {
      VpcId: 'vpc-0123456789abcdef0',
      VpcEndpointType: 'Interface',
      ServiceName: { 'Fn::Join': ['', ['com.amazonaws.', { Ref: 'AWS::Region' }, '.secretsmanager']] },
      SubnetIds: ['subnet-0aaaaaaaaaaaaaaa1', 'subnet-0bbbbbbbbbbbbbbb2'],
      SecurityGroupIds: [{ 'Fn::GetAtt': [group, 'GroupId'] }],
      PrivateDnsEnabled: true,
    });
    const sg = template.findResources('AWS::EC2::SecurityGroup')[group].Properties;
    assert.equal(sg.VpcId, 'vpc-0123456789abcdef0');
    assert.deepEqual(
      sg.SecurityGroupIngress.map((r: Record<string, unknown>) => [r.IpProtocol, r.FromPort, r.ToPort, r.SourceSecurityGroupId, r.CidrIp]),
      [['tcp', 443, 443, 'sg-0ccccccccccccccc3', undefined]],
    );
    // No egress: CDK's placeholder rule matches no traffic.
    assert.deepEqual(sg.SecurityGroupEgress.map((r: Record<string, unknown>) => r.CidrIp), ['255.255.255.255/32']);
  });

  it('creates no Secrets Manager endpoint when told not to, or with IAM auth', () => {
    for (const ctx of [{ createSecretsManagerEndpoint: 'false' }, IAM_AUTH]) {
      const { stack, template } = synth(ctx);
      template.resourceCountIs('AWS::EC2::VPCEndpoint', 0);
      template.resourceCountIs('AWS::EC2::SecurityGroup', 0);
      assert.equal(stack.secretsEndpoint, undefined);
    }
  });
});

describe('observability', () => {
  /** The alarms by metric name. */
  function alarms(template: Template): Record<string, Record<string, any>> {
    return Object.fromEntries(
      Object.values(template.findResources('AWS::CloudWatch::Alarm')).map((a) => [a.Properties.MetricName, a.Properties]),
    );
  }

  it('alarms on one migrator error or one failed job in 5 minutes, and not on missing data', () => {
    const { stack, template } = synth();
    const { migrator, trigger, deadLetters } = ids(stack);
    const all = alarms(template);
    assert.deepEqual(Object.keys(all).sort(), ['ApproximateNumberOfMessagesVisible', 'Errors', 'JobFailures']);
    const common = { Threshold: 1, EvaluationPeriods: 1, Period: 300, ComparisonOperator: 'GreaterThanOrEqualToThreshold', TreatMissingData: 'notBreaching' };
    for (const a of Object.values(all)) assert.deepEqual(Match.objectLike(common).test(a).isSuccess, true, JSON.stringify(a));
    assert.equal(all.Errors.Namespace, 'AWS/Lambda');
    assert.equal(all.Errors.Statistic, 'Sum');
    assert.deepEqual(all.Errors.Dimensions, [{ Name: 'FunctionName', Value: { Ref: migrator } }]);
    // The trigger prints JobFailures as an Embedded Metric Format line.
    assert.equal(all.JobFailures.Namespace, 'LambdaMigrate');
    assert.equal(all.JobFailures.Statistic, 'Sum');
    assert.deepEqual(all.JobFailures.Dimensions, [{ Name: 'FunctionName', Value: { Ref: trigger } }]);
    assert.equal(all.ApproximateNumberOfMessagesVisible.Namespace, 'AWS/SQS');
    assert.deepEqual(all.ApproximateNumberOfMessagesVisible.Dimensions, [
      { Name: 'QueueName', Value: { 'Fn::GetAtt': [deadLetters, 'QueueName'] } },
    ]);
    for (const a of Object.values(all)) assert.equal(a.AlarmActions, undefined);
    template.resourceCountIs('AWS::CodeStarNotifications::NotificationRule', 0);
    template.resourceCountIs('AWS::SNS::Topic', 0);
  });

  it('sends the alarms and failed pipeline executions to an existing topic', () => {
    const { stack, template } = synth({ alarmTopicArn: TOPIC });
    for (const a of Object.values(alarms(template))) assert.deepEqual(a.AlarmActions, [TOPIC]);
    const rules = Object.values(template.findResources('AWS::CodeStarNotifications::NotificationRule'));
    assert.equal(rules.length, 1);
    const rule = rules[0].Properties;
    assert.deepEqual(rule.EventTypeIds, ['codepipeline-pipeline-pipeline-execution-failed']);
    assert.deepEqual(rule.Targets, [{ TargetType: 'SNS', TargetAddress: TOPIC }]);
    const pipelineId = stack.getLogicalId(stack.pipeline.node.defaultChild as cdk.CfnElement);
    assert.ok(JSON.stringify(rule.Resource).includes(pipelineId), JSON.stringify(rule.Resource));
    template.resourceCountIs('AWS::SNS::Topic', 0);
    assert.equal(template.toJSON().Outputs.AlarmTopicArn.Value, TOPIC);
  });

  it('creates a TLS-only topic that CloudWatch of this account and CodeStar Notifications may publish to', () => {
    const { template } = synth({ createAlarmTopic: 'true' });
    const topics = Object.keys(template.findResources('AWS::SNS::Topic'));
    assert.equal(topics.length, 1);
    for (const a of Object.values(alarms(template))) assert.deepEqual(a.AlarmActions, [{ Ref: topics[0] }]);
    template.hasResourceProperties('AWS::CodeStarNotifications::NotificationRule', {
      Targets: [{ TargetType: 'SNS', TargetAddress: { Ref: topics[0] } }],
    });
    const policy = Object.values(template.findResources('AWS::SNS::TopicPolicy'))[0].Properties.PolicyDocument.Statement as Record<string, any>[];
    const allowed = policy.filter((s) => s.Effect === 'Allow').map((s) => [s.Principal.Service, s.Action, s.Condition]);
    assert.deepEqual(allowed.sort(), [
      ['cloudwatch.amazonaws.com', 'sns:Publish', { StringEquals: { 'aws:SourceAccount': '123456789012' } }],
      ['codestar-notifications.amazonaws.com', 'sns:Publish', undefined],
    ]);
    assert.ok(policy.some((s) => s.Effect === 'Deny' && s.Condition?.Bool?.['aws:SecureTransport'] === 'false'));
  });
});

describe('checkov findings', () => {
  it('keeps old artifact versions for 30 days on a versioned bucket', () => {
    const { template } = synth();
    template.hasResourceProperties('AWS::S3::Bucket', {
      VersioningConfiguration: { Status: 'Enabled' },
      LifecycleConfiguration: { Rules: [Match.objectLike({ ExpirationInDays: 90, NoncurrentVersionExpiration: { NoncurrentDays: 30 } })] },
    });
  });

  it('reserves migrator concurrency (5 by default, at least 2 for the trigger status poll), or none when asked', () => {
    let { stack, template } = synth();
    assert.equal(fnProps(template, ids(stack).migrator).ReservedConcurrentExecutions, 5);
    assert.equal(fnProps(template, ids(stack).trigger).ReservedConcurrentExecutions, undefined);
    ({ stack, template } = synth({ migratorReservedConcurrency: 2 }));
    assert.equal(fnProps(template, ids(stack).migrator).ReservedConcurrentExecutions, 2);
    ({ stack, template } = synth({ migratorReservedConcurrency: 'none' }));
    assert.equal(fnProps(template, ids(stack).migrator).ReservedConcurrentExecutions, undefined);
  });

  it('sends failed asynchronous trigger invocations to an encrypted, TLS-only dead-letter queue', () => {
    const { stack, template } = synth();
    const { trigger, triggerRole, deadLetters } = ids(stack);
    assert.deepEqual(fnProps(template, trigger).DeadLetterConfig, { TargetArn: { 'Fn::GetAtt': [deadLetters, 'Arn'] } });
    const queue = template.findResources('AWS::SQS::Queue')[deadLetters].Properties;
    assert.equal(queue.KmsMasterKeyId, 'alias/aws/sqs');
    assert.equal(queue.MessageRetentionPeriod, 14 * 24 * 3600);
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
    const send = roleStatements(template, triggerRole).filter((s) => asList(s.Action).includes('sqs:SendMessage'));
    assert.deepEqual(send.map((s) => s.Resource), [{ 'Fn::GetAtt': [deadLetters, 'Arn'] }]);
  });

  it('suppresses only the checks deploy/README.md justifies, each with its reason', () => {
    const readme = fs.readFileSync(path.join(DEPLOY_DIR, 'README.md'), 'utf8');
    const known = new Map(Object.values(CHECKOV_SKIPS).map((s) => [s.id, s.comment]));
    const { template } = synth({ createAlarmTopic: true });
    const seen = new Set<string>();
    for (const [id, res] of Object.entries(template.toJSON().Resources as Record<string, { Metadata?: Record<string, any> }>)) {
      for (const skip of (res.Metadata?.checkov?.skip ?? []) as CheckovSkip[]) {
        assert.equal(skip.comment, known.get(skip.id), `${id}: ${skip.id}`);
        seen.add(skip.id);
      }
    }
    assert.deepEqual([...seen].sort(), [...known.keys()].sort());
    for (const id of known.keys()) assert.match(readme, new RegExp(`^\\| \`${id}\` \\|`, 'm'), `README row for ${id}`);
  });
});
