import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { DbAuthConfig, defaultCodePath } from '../lib/config';
import { DEFAULTS } from '../lib/defaults';
import { BASE_CONTEXT, DEPLOY_DIR, load, problems } from './helpers';

describe('context', () => {
  it('fills defaults for everything optional', () => {
    const c = load();
    assert.equal(c.stackName, 'LambdaMigrate');
    assert.deepEqual(c.source, { kind: 'codecommit', repositoryName: 'app-schema', branch: 'main' });
    assert.deepEqual(c.subnetIds, ['subnet-0aaaaaaaaaaaaaaa1', 'subnet-0bbbbbbbbbbbbbbb2']);
    assert.equal(c.dbPort, 3306);
    assert.equal(c.migrationsDir, 'migrations');
    assert.equal(c.migrationsTable, 'gorp_migrations');
    assert.equal(c.architecture, 'x86_64');
    assert.equal(c.createS3Endpoint, false);
    assert.equal(c.artifactEncryption, 's3');
    assert.equal(c.migratorFetchesArtifact, true);
    assert.equal(c.vpcAccessPolicy, 'scoped');
    assert.deepEqual(c.migratorCommands, ['verify', 'plan', 'status', 'up', 'resolve']);
    assert.equal(c.reviewedPipeline, false);
    assert.equal(c.approvalTopicArn, undefined);
    assert.deepEqual(c.dbAuth, {
      kind: 'secret',
      secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:app-db-AbCdEf',
      jsonField: 'password',
      createEndpoint: true,
      kmsKeyArn: undefined,
    });
    assert.equal(c.migratorReservedConcurrency, 5);
    assert.deepEqual(c.alarmTopic, { kind: 'none' });
    assert.ok(c.triggerTimeoutSecs > c.migratorTimeoutSecs);
    assert.ok(c.lockTimeoutSecs < c.migratorTimeoutSecs);
  });

  it('takes the binaries\' defaults from the generated defaults.ts', () => {
    const c = load();
    // deploy/lib/defaults.ts is generated from engine/src/settings/table.rs (the engine's
    // tests check it); the stack's own values must be the same.
    assert.equal(c.migrationsDir, DEFAULTS.migrationsDir);
    assert.equal(c.migrationsTable, DEFAULTS.migrationsTable);
    assert.equal(c.dbPort, DEFAULTS.dbPort);
    assert.equal(c.lockTimeoutSecs, DEFAULTS.lockTimeoutSecs);
    assert.equal(c.lockWaitTimeoutSecs, DEFAULTS.lockWaitTimeoutSecs);
    assert.equal(c.lockWaitRetries, DEFAULTS.lockWaitRetries);
    assert.equal(c.migratorTimeoutSecs, DEFAULTS.migratorTimeoutSecs);
    assert.equal(c.lintFailOn, DEFAULTS.lintFailOn);
    assert.equal(DEFAULTS.lintFailOn, 'error');
    assert.deepEqual(c.migratorCommands, DEFAULTS.migratorCommands.split(','));
    assert.deepEqual([DEFAULTS.lockTimeoutSecs, DEFAULTS.lockWaitTimeoutSecs, DEFAULTS.lockWaitRetries], [60, 10, 3]);
    assert.deepEqual([DEFAULTS.deadlineMarginSecs, DEFAULTS.killMarginSecs, DEFAULTS.migratorTimeoutSecs], [30, 5, 300]);
  });

  it('points the code at cargo lambda output by default', () => {
    const c = load({ triggerCode: undefined, migratorCode: undefined });
    const root = path.dirname(DEPLOY_DIR);
    assert.equal(c.triggerCode, path.join(root, 'target', 'lambda', 'trigger', 'bootstrap.zip'));
    assert.equal(c.migratorCode, defaultCodePath('migrator'));
    assert.equal(c.migratorCode, path.join(root, 'target', 'lambda', 'migrator', 'bootstrap.zip'));
  });

  it('accepts lists as comma-separated strings, JSON strings or arrays', () => {
    const want = ['subnet-0aaaaaaaaaaaaaaa1', 'subnet-0bbbbbbbbbbbbbbb2'];
    assert.deepEqual(load({ subnetIds: ' subnet-0aaaaaaaaaaaaaaa1 , subnet-0bbbbbbbbbbbbbbb2' }).subnetIds, want);
    assert.deepEqual(load({ subnetIds: JSON.stringify(want) }).subnetIds, want);
    assert.deepEqual(load({ subnetIds: want }).subnetIds, want);
    assert.deepEqual(load({ subnetIds: [...want, want[0]] }).subnetIds, want, 'duplicates dropped');
  });

  it('reports every missing required value at once, naming each key', () => {
    const p = problems({
      repositoryName: undefined,
      vpcId: undefined,
      subnetIds: undefined,
      securityGroupId: undefined,
      dbHost: undefined,
      dbName: undefined,
      dbUser: undefined,
      dbSecretArn: undefined,
    });
    for (const key of ['repositoryName or connectionArn', 'vpcId', 'subnetIds', 'securityGroupId', 'dbHost', 'dbName', 'dbUser', 'dbIamAuth=true or dbSecretArn']) {
      assert.ok(p.some((m) => m.startsWith(key + ':')), `no problem reported for ${key}: ${p.join(' | ')}`);
    }
    assert.equal(p.length, 8);
  });

  it('rejects malformed ids and names', () => {
    const cases: [string, unknown][] = [
      ['vpcId', 'vpc-XYZ'],
      ['subnetIds', 'subnet-0aaaaaaaaaaaaaaa1,sg-0ccccccccccccccc3'],
      ['securityGroupId', 'subnet-0aaaaaaaaaaaaaaa1'],
      ['dbUser', 'root*'],
      ['dbUser', 'a/b'],
      ['dbName', 'app; DROP TABLE x'],
      ['dbHost', 'db host'],
      ['dbPort', '70000'],
      ['dbPort', 'abc'],
      ['migratorTimeoutSecs', '3.5'],
      ['architecture', 'aarch64'],
      ['artifactEncryption', 'none'],
      ['logRetentionDays', '10'],
      ['createS3Endpoint', 'yes'],
      ['migrationsDir', '../etc'],
      ['migrationsDir', '/abs'],
      ['migrationsTable', 'gorp migrations'],
      ['stackName', '1stack'],
      ['subnetIds', '[not json'],
      ['fetchMode', 'lazy'],
      ['lintFailOn', 'errors'],
      ['reviewedPipeline', 'yes'],
      ['approvalTopicArn', 'arn:aws:sqs:eu-west-1:123456789012:approvals'],
      ['alarmTopicArn', 'arn:aws:sqs:eu-west-1:123456789012:alarms'],
      ['createAlarmTopic', 'yes'],
      ['migratorReservedConcurrency', '1'],
      ['migratorReservedConcurrency', 'many'],
      ['dbSecretArn', 'app-db'],
      ['dbSecretArn', 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:app-db'],
      ['dbSecretKmsKeyArn', 'alias/aws/secretsmanager'],
      ['createSecretsManagerEndpoint', 'maybe'],
    ];
    for (const [key, value] of cases) {
      const p = problems({ [key]: value });
      assert.ok(p.some((m) => m.startsWith(key + ':')), `${key}=${JSON.stringify(value)}: ${p.join(' | ')}`);
    }
  });

  it('rejects unknown keys, so a typo is not silently ignored', () => {
    assert.deepEqual(problems({ dbHots: 'x' }).map((m) => m.split(':')[0]), ['dbHots']);
  });

  it('requires exactly one source', () => {
    const arn = 'arn:aws:codestar-connections:us-east-1:123456789012:connection/abc-123';
    assert.ok(problems({ connectionArn: arn, repository: 'o/r' }).some((m) => m.includes('not both')));
    assert.ok(problems({ repositoryName: undefined, connectionArn: arn }).some((m) => m.startsWith('repository:')));
    assert.ok(problems({ repositoryName: undefined, connectionArn: arn, repository: 'just-a-name' }).some((m) => m.startsWith('repository:')));
    assert.ok(problems({ repositoryName: undefined, connectionArn: 'arn:aws:s3:::bucket', repository: 'o/r' }).some((m) => m.startsWith('connectionArn:')));
    const c = load({ repositoryName: undefined, connectionArn: arn, repository: 'org/schema', branch: 'prod' });
    assert.deepEqual(c.source, { kind: 'connection', connectionArn: arn, owner: 'org', repo: 'schema', branch: 'prod' });
  });

  it('requires exactly one way to authenticate, with what it needs', () => {
    assert.ok(problems({ dbIamAuth: true, dbInstanceResourceId: 'db-ABC' }).some((m) => m.includes('not both')));
    const iamNoId = problems({ dbSecretArn: undefined, dbIamAuth: 'true' });
    assert.ok(iamNoId.some((m) => m.startsWith('dbInstanceResourceId:')), iamNoId.join(' | '));
    assert.ok(problems({ dbInstanceResourceId: 'db-ABC' }).some((m) => m.startsWith('dbInstanceResourceId:')));
    assert.ok(
      problems({ dbSecretArn: undefined, dbIamAuth: true, dbInstanceResourceId: 'db-ABC', dbTls: 'disabled' }).some((m) =>
        m.startsWith('dbTls:'),
      ),
    );
    const iam = load({ dbSecretArn: undefined, dbIamAuth: true, dbInstanceResourceId: 'db-ABC' });
    assert.deepEqual(iam.dbAuth, { kind: 'iam', resourceId: 'db-ABC' });
    assert.equal(iam.dbTls, 'required');
    assert.equal(iam.dbCaBundle, '/var/task/certs/rds-global-bundle.pem');
  });

  it('refuses a plain dbPassword, pointing at a secret or IAM auth, without echoing it', () => {
    for (const ctx of [{ dbSecretArn: undefined, dbPassword: 'hunter2-pw' }, { dbPassword: 'hunter2-pw' }]) {
      const p = problems(ctx);
      assert.deepEqual(p.length, 1, p.join(' | '));
      assert.match(p[0], /^dbPassword: a plain password is no longer accepted/);
      assert.match(p[0], /dbSecretArn/);
      assert.match(p[0], /dbIamAuth=true/);
      assert.ok(!p[0].includes('hunter2-pw'));
    }
  });

  it('reads the secret field, an empty one meaning a plain-text secret, and the secret options only with a secret', () => {
    const secret = (overrides: Record<string, unknown>) => load(overrides).dbAuth as Extract<DbAuthConfig, { kind: 'secret' }>;
    assert.equal(secret({ dbSecretField: '' }).jsonField, '');
    assert.equal(secret({ dbSecretField: 'pass' }).jsonField, 'pass');
    assert.equal(secret({ createSecretsManagerEndpoint: 'false' }).createEndpoint, false);
    const key = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    assert.equal(secret({ dbSecretKmsKeyArn: key }).kmsKeyArn, key);
    const iamOnly = { dbSecretArn: undefined, dbIamAuth: true, dbInstanceResourceId: 'db-ABC' };
    assert.deepEqual(
      problems({ ...iamOnly, dbSecretField: '', dbSecretKmsKeyArn: key, createSecretsManagerEndpoint: true }).sort(),
      [
        'createSecretsManagerEndpoint: only used with dbSecretArn or fleetSecretPrefix',
        'dbSecretField: only used with dbSecretArn',
        'dbSecretKmsKeyArn: only used with dbSecretArn',
      ],
    );
  });

  it('reserves 5 migrator instances by default, any number from 2, or none', () => {
    assert.equal(load({ migratorReservedConcurrency: '2' }).migratorReservedConcurrency, 2);
    assert.equal(load({ migratorReservedConcurrency: 'none' }).migratorReservedConcurrency, undefined);
    assert.ok(problems({ migratorReservedConcurrency: 1 })[0].startsWith('migratorReservedConcurrency: expected a whole number from 2'));
  });

  it('takes an existing alarm topic or creates one, not both', () => {
    const topic = 'arn:aws:sns:eu-west-1:123456789012:ops-alarms';
    assert.deepEqual(load({ alarmTopicArn: topic }).alarmTopic, { kind: 'existing', arn: topic });
    assert.deepEqual(load({ createAlarmTopic: 'true' }).alarmTopic, { kind: 'create' });
    assert.deepEqual(problems({ alarmTopicArn: topic, createAlarmTopic: true }), [
      'alarmTopicArn, createAlarmTopic: give an existing topic or ask for a new one, not both',
    ]);
  });

  it('keeps the trigger timeout above the migrator timeout and within Lambda limits', () => {
    assert.equal(load({ migratorTimeoutSecs: 600 }).triggerTimeoutSecs, 660);
    assert.equal(load({ migratorTimeoutSecs: 890 }).triggerTimeoutSecs, 900);
    assert.ok(problems({ migratorTimeoutSecs: 300, triggerTimeoutSecs: 300 }).some((m) => m.startsWith('triggerTimeoutSecs:')));
    assert.ok(problems({ migratorTimeoutSecs: 900 }).some((m) => m.startsWith('migratorTimeoutSecs:')));
    assert.ok(problems({ triggerTimeoutSecs: 901 }).some((m) => m.startsWith('triggerTimeoutSecs:')));
    assert.ok(problems({ lockTimeoutSecs: 300, migratorTimeoutSecs: 300 }).some((m) => m.startsWith('lockTimeoutSecs:')));
    assert.ok(problems({ deadlineMarginSecs: 300, migratorTimeoutSecs: 300 }).some((m) => m.startsWith('deadlineMarginSecs:')));
    assert.ok(problems({ deadlineMarginSecs: 20, killMarginSecs: 21 }).some((m) => m.startsWith('killMarginSecs:')));
    assert.ok(problems({ lockWaitRetries: 11 }).some((m) => m.startsWith('lockWaitRetries:')));
    const c = load({ deadlineMarginSecs: 60, killMarginSecs: 10, lockWaitTimeoutSecs: 20 });
    assert.deepEqual([c.deadlineMarginSecs, c.killMarginSecs, c.lockWaitTimeoutSecs, c.lockWaitRetries], [60, 10, 20, 3]);
  });

  it('normalises migratorCommands: lowercase, trimmed, each once, in the given order', () => {
    assert.deepEqual(load({ migratorCommands: ' Status, UP ,down,status,DOWN ' }).migratorCommands, ['status', 'up', 'down']);
    assert.deepEqual(load({ migratorCommands: ['up', 'status', 'Redo', 'skip'] }).migratorCommands, ['up', 'status', 'redo', 'skip']);
    assert.deepEqual(load({ migratorCommands: '["verify","up","status"]' }).migratorCommands, ['verify', 'up', 'status']);
    assert.deepEqual(load({ migratorCommands: 'up,status,Up-Inline' }).migratorCommands, ['up', 'status', 'up-inline']);
  });

  it('keeps SQL sent inline off by default', () => {
    assert.ok(!load().migratorCommands.some((c) => c.endsWith('-inline')));
    // `up-inline` is not `up`: the pipeline still needs `up` for its artifact.
    assert.deepEqual(problems({ migratorCommands: 'status,up-inline' }), ['migratorCommands: the pipeline needs up (it runs up, status)']);
  });

  it('rejects unknown migrator commands, naming each one', () => {
    const p = problems({ migratorCommands: 'up,status,drop,Migrate' });
    const bad = p.filter((m) => m.startsWith('migratorCommands:'));
    assert.equal(bad.length, 2, p.join(' | '));
    assert.match(
      bad[0],
      /"drop" is not a command \(one of verify, plan, status, up, down, redo, skip, resolve, up-inline, down-inline, redo-inline\)/,
    );
    // Running SQL sent inline is a permission only the commands that run SQL have.
    assert.ok(problems({ migratorCommands: 'up,status,status-inline' }).some((m) => m.includes('"status-inline" is not a command')));
    assert.match(bad[1], /"Migrate" is not a command/);
    assert.ok(problems({ migratorCommands: 'up,,status' }).some((m) => m.startsWith('migratorCommands: "" is not')));
  });

  it('keeps the commands the pipeline runs in migratorCommands', () => {
    assert.deepEqual(problems({ migratorCommands: 'status,plan' }), ['migratorCommands: the pipeline needs up (it runs up, status)']);
    assert.deepEqual(problems({ migratorCommands: 'up' }), ['migratorCommands: the pipeline needs status (it runs up, status)']);
    assert.deepEqual(problems({ migratorCommands: [] }), ['migratorCommands: the pipeline needs up, status (it runs up, status)']);
    assert.deepEqual(problems({ migratorCommands: 'up,status', reviewedPipeline: true }), [
      'migratorCommands: the pipeline needs plan (it runs plan, up, status)',
    ]);
    assert.deepEqual(load({ migratorCommands: 'up,status' }).migratorCommands, ['up', 'status']);
  });

  it('takes an approval topic only for a reviewed pipeline', () => {
    const topic = 'arn:aws:sns:eu-west-1:123456789012:schema-approvals';
    assert.deepEqual(problems({ approvalTopicArn: topic }), ['approvalTopicArn: only used with reviewedPipeline=true']);
    const c = load({ reviewedPipeline: 'true', approvalTopicArn: topic });
    assert.equal(c.reviewedPipeline, true);
    assert.equal(c.approvalTopicArn, topic);
  });

  it('needs route tables exactly when creating the S3 endpoint', () => {
    assert.ok(problems({ createS3Endpoint: true }).some((m) => m.startsWith('routeTableIds:')));
    assert.ok(problems({ routeTableIds: 'rtb-0ddddddddddddddd4' }).some((m) => m.startsWith('routeTableIds:')));
    assert.deepEqual(load({ createS3Endpoint: 'true', routeTableIds: 'rtb-0ddddddddddddddd4' }).routeTableIds, ['rtb-0ddddddddddddddd4']);
  });
});

describe('app', () => {
  const app = path.join(DEPLOY_DIR, 'dist', 'bin', 'app.js');

  /** Runs the CDK app the way the CDK CLI does: context in CDK_CONTEXT_JSON, output in CDK_OUTDIR. */
  function run(ctx: Record<string, unknown>) {
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'lm-cdk-'));
    const flags = JSON.parse(fs.readFileSync(path.join(DEPLOY_DIR, 'cdk.json'), 'utf8')).context;
    const r = spawnSync(process.execPath, [app], {
      env: { ...process.env, CDK_CONTEXT_JSON: JSON.stringify({ ...flags, ...ctx }), CDK_OUTDIR: outdir, CDK_DEFAULT_REGION: 'eu-west-1' },
      encoding: 'utf8',
      timeout: 120_000,
    });
    return { ...r, outdir };
  }

  it('synthesizes a template offline from context', () => {
    const r = run({ ...BASE_CONTEXT, stackName: 'SchemaMigrations' });
    assert.equal(r.status, 0, r.stderr);
    const template = JSON.parse(fs.readFileSync(path.join(r.outdir, 'SchemaMigrations.template.json'), 'utf8'));
    const runtimes = Object.values(template.Resources as Record<string, { Type: string; Properties: { Runtime?: string } }>)
      .filter((res) => res.Type === 'AWS::Lambda::Function')
      .map((res) => res.Properties.Runtime);
    assert.deepEqual(runtimes, ['provided.al2023', 'provided.al2023']);
    fs.rmSync(r.outdir, { recursive: true, force: true });
  });

  it('exits 2 with every problem listed when the context is bad', () => {
    const { dbHost: _dbHost, ...rest } = BASE_CONTEXT;
    const r = run({ ...rest, vpcId: 'nope' });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /dbHost: required/);
    assert.match(r.stderr, /vpcId: "nope" is not a VPC id/);
    fs.rmSync(r.outdir, { recursive: true, force: true });
  });
});
