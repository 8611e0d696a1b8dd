import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import * as cdk from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { fleetDefinition, RETRIED_LAMBDA_ERRORS, SUBSTITUTIONS } from '../lib/asl';
import { CONTEXT_KEYS, FLEET_DEFAULTS } from '../lib/config';
import { GOLDEN_FILE, GOLDEN_VALUES, goldenText, synthesizedDefinition } from './fleet-golden';
import { asList, BASE_CONTEXT, DEPLOY_DIR, load, overbroad, problems, statements, synth } from './helpers';

const REPO = path.dirname(DEPLOY_DIR);
const PREFIX = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:tenants/';

/** The names the migrator gives its failures (engine/src/command/error.rs, ErrorKind::as_str). */
function migrationErrorNames(): string[] {
  const rs = fs.readFileSync(path.join(REPO, 'engine', 'src', 'command', 'error.rs'), 'utf8');
  const start = rs.indexOf('pub fn as_str(self)');
  assert.ok(start >= 0, 'error.rs has ErrorKind::as_str');
  const body = rs.slice(start, rs.indexOf('\n    }\n', start));
  const names = [...body.matchAll(/ErrorKind::\w+ => "(\w+)"/g)].map((m) => m[1]);
  assert.ok(names.length >= 15 && names.includes('SqlError') && names.includes('PartialMigration'), names.join(', '));
  return names;
}

/** A state, anywhere in the definition (the Maps' processors included), by name. */
function findState(def: Record<string, any>, name: string): Record<string, any> {
  const found: Record<string, any>[] = [];
  const walk = (states: Record<string, any>) => {
    for (const [n, s] of Object.entries(states)) {
      if (n === name) found.push(s);
      if (s.ItemProcessor) walk(s.ItemProcessor.States);
    }
  };
  walk(def.States);
  assert.equal(found.length, 1, `one state ${name}`);
  return found[0];
}

/** Every Retry and Catch rule in the definition, with the state that holds it. */
function rules(def: Record<string, any>, kind: 'Retry' | 'Catch'): { state: string; rule: Record<string, any> }[] {
  const out: { state: string; rule: Record<string, any> }[] = [];
  const walk = (states: Record<string, any>) => {
    for (const [n, s] of Object.entries(states)) {
      for (const rule of s[kind] ?? []) out.push({ state: n, rule });
      if (s.ItemProcessor) walk(s.ItemProcessor.States);
    }
  };
  walk(def.States);
  return out;
}

/** The synthesized stack with fleet=true, its definition parsed, and its logical ids. */
function fleetStack(context: Record<string, unknown> = {}) {
  const { stack, template } = synth({ fleet: true, ...context });
  const id = (c: { node: { defaultChild?: unknown } }) => stack.getLogicalId(c.node.defaultChild as cdk.CfnElement);
  const machines = template.findResources('AWS::StepFunctions::StateMachine');
  assert.equal(Object.keys(machines).length, 1);
  const machine = Object.values(machines)[0].Properties;
  return {
    stack,
    template,
    machine,
    text: machine.DefinitionString as string,
    def: JSON.parse(machine.DefinitionString) as Record<string, any>,
    ids: {
      migrator: id(stack.migrator),
      trigger: id(stack.trigger),
      migratorRole: id(stack.migrator.role as never),
      triggerRole: id(stack.trigger.role as never),
      fleetRole: id(stack.fleet!.role as never),
      bucket: id(stack.artifactBucket),
      key: stack.artifactKey ? id(stack.artifactKey) : undefined,
    },
  };
}

/**
 * What a role may do: each action with the resources (as JSON) and condition it is granted on,
 * whatever statements CDK merged them into.
 */
function grants(template: Template, roleId: string): Map<string, { resources: string[]; condition?: unknown }[]> {
  const out = new Map<string, { resources: string[]; condition?: unknown }[]>();
  for (const { roles, statement } of statements(template)) {
    if (!roles.some((r) => JSON.stringify(r) === JSON.stringify({ Ref: roleId }))) continue;
    assert.equal(statement.Effect, 'Allow');
    for (const action of asList(statement.Action)) {
      const list = out.get(action) ?? [];
      list.push({ resources: asList(statement.Resource as unknown[]).map((r) => JSON.stringify(r)), condition: statement.Condition });
      out.set(action, list);
    }
  }
  return out;
}

/** The resources one action is granted on (all its grants together), sorted. */
function resourcesOf(g: ReturnType<typeof grants>, action: string): string[] {
  return (g.get(action) ?? []).flatMap((x) => x.resources).sort();
}

/** An object ARN in the artifact bucket, as the template writes it. */
function objects(bucket: string, pattern: string): string {
  return JSON.stringify({ 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucket, 'Arn'] }, `/${pattern}`]] });
}

const ARN = (resource: string) => JSON.stringify(`arn:aws:states:eu-west-1:123456789012:${resource}`);

describe('fleet settings', () => {
  it('are off by default, with the documented defaults when on', () => {
    assert.equal(load().fleet, undefined);
    const c = load({ fleet: 'true' });
    assert.deepEqual(c.fleet, {
      maxConcurrency: 10,
      toleratedFailurePercentage: 0,
      canary: 1,
      maxFollowUps: 10,
      secretPrefix: undefined,
      resultsPrefix: 'fleet/',
      createSecretsEndpoint: false,
      manifest: undefined,
    });
    assert.deepEqual(
      [FLEET_DEFAULTS.maxConcurrency, FLEET_DEFAULTS.toleratedFailurePercentage, FLEET_DEFAULTS.canary, FLEET_DEFAULTS.maxFollowUps],
      [10, 0, 1, 10],
    );
  });

  it('take numbers, fractional percentages, a secret prefix and a results prefix', () => {
    const c = load({
      fleet: true,
      fleetMaxConcurrency: '1000',
      fleetToleratedFailurePercentage: '2.5',
      fleetCanary: 0,
      fleetMaxFollowUps: '0',
      fleetSecretPrefix: PREFIX,
      fleetResultsPrefix: 'runs/fleet/',
      migratorReservedConcurrency: 'none',
    });
    assert.deepEqual(
      [c.fleet?.maxConcurrency, c.fleet?.toleratedFailurePercentage, c.fleet?.canary, c.fleet?.maxFollowUps],
      [1000, 2.5, 0, 0],
    );
    assert.equal(c.fleet?.secretPrefix, PREFIX);
    assert.equal(c.fleet?.resultsPrefix, 'runs/fleet/');
    assert.equal(load({ fleet: true, fleetToleratedFailurePercentage: 100 }).fleet?.toleratedFailurePercentage, 100);
  });

  it('reject bad values, each named by its key', () => {
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ fleetMaxConcurrency: 0 }, /^fleetMaxConcurrency: expected a whole number from 1 to 1000/],
      [{ fleetMaxConcurrency: '1001' }, /^fleetMaxConcurrency:/],
      [{ fleetMaxConcurrency: 'ten' }, /^fleetMaxConcurrency:/],
      [{ fleetToleratedFailurePercentage: '-1' }, /^fleetToleratedFailurePercentage: expected a percentage from 0 to 100/],
      [{ fleetToleratedFailurePercentage: '100.5' }, /^fleetToleratedFailurePercentage:/],
      [{ fleetToleratedFailurePercentage: '2.555' }, /^fleetToleratedFailurePercentage:/],
      [{ fleetToleratedFailurePercentage: 'five' }, /^fleetToleratedFailurePercentage:/],
      [{ fleetCanary: 101 }, /^fleetCanary: expected a whole number from 0 to 100/],
      [{ fleetMaxFollowUps: '101' }, /^fleetMaxFollowUps: expected a whole number from 0 to 100/],
      [{ fleetSecretPrefix: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:' }, /^fleetSecretPrefix: .* is not a Secrets Manager ARN prefix/],
      [{ fleetSecretPrefix: `${PREFIX}*` }, /^fleetSecretPrefix:/],
      [{ fleetSecretPrefix: 'tenants/' }, /^fleetSecretPrefix:/],
      [{ fleetResultsPrefix: 'fleet' }, /^fleetResultsPrefix: .* ending in \//],
      [{ fleetResultsPrefix: '/fleet/' }, /^fleetResultsPrefix:/],
      [{ fleetResultsPrefix: 'a/../b/' }, /^fleetResultsPrefix: .* must not hold \.\./],
      [{ fleetResultsPrefix: 'fleet/*/' }, /^fleetResultsPrefix:/],
    ];
    for (const [ctx, pattern] of bad) {
      const found = problems({ fleet: true, ...ctx });
      assert.equal(found.length, 1, found.join(' | '));
      assert.match(found[0], pattern);
    }
    assert.equal(load({ fleet: true, fleetResultsPrefix: '' }).fleet?.resultsPrefix, 'fleet/', 'an empty value is the default');
  });

  it('take a manifest key under the results prefix', () => {
    assert.equal(load({ fleet: true, fleetManifest: 'fleet/manifests/tenants.jsonl' }).fleet?.manifest, 'fleet/manifests/tenants.jsonl');
    assert.equal(load({ fleet: true, fleetManifest: ' fleet/tenants.csv ' }).fleet?.manifest, 'fleet/tenants.csv', 'trimmed');
    assert.equal(
      load({ fleet: true, fleetResultsPrefix: 'runs/fleet/', fleetManifest: 'runs/fleet/m/(prod)-tenants_v2.jsonl' }).fleet?.manifest,
      'runs/fleet/m/(prod)-tenants_v2.jsonl',
    );
    assert.equal(load({ fleet: true, fleetManifest: '' }).fleet?.manifest, undefined, 'an empty value is none');
    // The longest key whose UserParameters still fit CodePipeline's 1000 characters.
    const longest = `fleet/${'m'.repeat(1000 - '{"fleet":{"manifest":"fleet/"}}'.length)}`;
    assert.equal(load({ fleet: true, fleetManifest: longest }).fleet?.manifest, longest);
  });

  it('refuse a manifest key outside the results prefix, with .. or / at the start, or too long', () => {
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ fleetManifest: 'manifests/tenants.jsonl' }, /^fleetManifest: "manifests\/tenants.jsonl" must be under fleetResultsPrefix \(fleet\/\)/],
      [{ fleetManifest: 'fleetx/tenants.jsonl' }, /must be under fleetResultsPrefix \(fleet\/\)/],
      [{ fleetManifest: 'fleet/tenants.jsonl', fleetResultsPrefix: 'runs/' }, /^fleetManifest: .* must be under fleetResultsPrefix \(runs\/\)/],
      [{ fleetManifest: 'fleet/../secrets/x.jsonl' }, /^fleetManifest: .* must not hold \. or \.\. segments/],
      [{ fleetManifest: 'fleet/..' }, /^fleetManifest: .* must not hold \. or \.\. segments/],
      [{ fleetManifest: 'fleet/./x.jsonl' }, /^fleetManifest: .* must not hold \. or \.\. segments/],
      [{ fleetManifest: '/fleet/tenants.jsonl' }, /^fleetManifest: .* must not start with \//],
      [{ fleetManifest: 'fleet/manifests/' }, /^fleetManifest: .* names a folder/],
      [{ fleetManifest: 'fleet/' }, /^fleetManifest: .* names a folder/],
      [{ fleetManifest: 'fleet/#{Source.CommitId}.jsonl' }, /^fleetManifest: .* is not an S3 key of letters, digits/],
      [{ fleetManifest: 'fleet/tenants list.jsonl' }, /^fleetManifest: .* is not an S3 key/],
      [{ fleetManifest: 'fleet/t\u00e9nants.jsonl' }, /^fleetManifest: .* is not an S3 key/],
      [{ fleetManifest: `fleet/${'m'.repeat(1019)}` }, /^fleetManifest: .* is longer than S3's 1024 bytes/],
      [{ fleetManifest: `fleet/${'m'.repeat(970)}` }, /^fleetManifest: .* makes the Migrate action's UserParameters 1001 characters; CodePipeline allows 1000/],
      [{ fleetManifest: ['fleet/a.jsonl'] }, /^fleetManifest: expected a string/],
    ];
    for (const [ctx, pattern] of bad) {
      const found = problems({ fleet: true, ...ctx });
      assert.equal(found.length, 1, `${JSON.stringify(ctx)}: ${found.join(' | ')}`);
      assert.match(found[0], pattern);
    }
    // A bad prefix is reported once, not again through the manifest.
    assert.deepEqual(
      problems({ fleet: true, fleetResultsPrefix: 'fleet', fleetManifest: 'fleet/a.jsonl' }).map((m) => m.split(':')[0]),
      ['fleetResultsPrefix'],
    );
  });

  it('are errors without fleet=true', () => {
    const found = problems({ fleetMaxConcurrency: 5, fleetSecretPrefix: PREFIX, fleetResultsPrefix: 'x/', fleetManifest: 'x/m.jsonl' });
    assert.deepEqual(found, [
      'fleetMaxConcurrency: only used with fleet=true',
      'fleetSecretPrefix: only used with fleet=true',
      'fleetResultsPrefix: only used with fleet=true',
      'fleetManifest: only used with fleet=true',
    ]);
    assert.deepEqual(problems({ fleetManifest: 'fleet/manifests/tenants.jsonl' }), ['fleetManifest: only used with fleet=true']);
    assert.deepEqual(problems({ fleet: false, fleetManifest: 'fleet/manifests/tenants.jsonl' }), ['fleetManifest: only used with fleet=true']);
    assert.deepEqual(problems({ fleet: 'yes' }), ['fleet: expected true or false, got "yes"']);
  });

  it('leave the migrator room beside a full Distributed Map', () => {
    // The default reservation (5) grows to one more than the Map's concurrency.
    assert.equal(load({ fleet: true }).migratorReservedConcurrency, 11);
    assert.equal(load({ fleet: true, fleetMaxConcurrency: 2 }).migratorReservedConcurrency, 5);
    assert.equal(load({ fleet: true, migratorReservedConcurrency: 'none' }).migratorReservedConcurrency, undefined);
    assert.equal(load({ fleet: true, migratorReservedConcurrency: 11 }).migratorReservedConcurrency, 11);
    assert.deepEqual(problems({ fleet: true, migratorReservedConcurrency: 10 }), [
      'migratorReservedConcurrency: 10 must exceed fleetMaxConcurrency (10), or the Distributed Map is throttled; raise it or set it to none',
    ]);
    assert.equal(load().migratorReservedConcurrency, 5, 'unchanged without fleet');
  });

  it('keep the state machine name within Step Functions\' 80 characters', () => {
    const found = problems({ fleet: true, stackName: 'S'.repeat(75) });
    assert.equal(found.length, 1);
    assert.match(found[0], /^stackName: at most 74 characters with fleet=true/);
    assert.equal(load({ fleet: true, stackName: 'S'.repeat(74) }).fleet?.maxConcurrency, 10);
  });

  it('are each documented in deploy/README.md with their default', () => {
    const readme = fs.readFileSync(path.join(DEPLOY_DIR, 'README.md'), 'utf8');
    const defaults: Record<string, string> = {
      fleet: '`false`',
      fleetMaxConcurrency: `\`${FLEET_DEFAULTS.maxConcurrency}\``,
      fleetToleratedFailurePercentage: `\`${FLEET_DEFAULTS.toleratedFailurePercentage}\``,
      fleetCanary: `\`${FLEET_DEFAULTS.canary}\``,
      fleetMaxFollowUps: `\`${FLEET_DEFAULTS.maxFollowUps}\``,
      fleetSecretPrefix: '',
      fleetResultsPrefix: `\`${FLEET_DEFAULTS.resultsPrefix}\``,
      fleetManifest: '',
    };
    const keys = (CONTEXT_KEYS as readonly string[]).filter((k) => k.startsWith('fleet'));
    assert.deepEqual(keys, Object.keys(defaults));
    for (const [key, dflt] of Object.entries(defaults)) {
      const row = readme.split('\n').find((line) => line.startsWith(`| \`${key}\` | ${dflt ? `${dflt} ` : ''}|`));
      assert.ok(row, `README row for ${key} with default ${dflt || '(none)'}`);
    }
  });

  it('allow the Secrets Manager endpoint setting for the targets\' secrets', () => {
    const iam = { dbSecretArn: undefined, dbIamAuth: true, dbInstanceResourceId: 'db-ABC' };
    assert.equal(load({ ...iam, fleet: true, fleetSecretPrefix: PREFIX }).fleet?.createSecretsEndpoint, true);
    assert.equal(load({ ...iam, fleet: true, fleetSecretPrefix: PREFIX, createSecretsManagerEndpoint: false }).fleet?.createSecretsEndpoint, false);
    assert.deepEqual(problems({ ...iam, fleet: true, createSecretsManagerEndpoint: false }), [
      'createSecretsManagerEndpoint: only used with dbSecretArn or fleetSecretPrefix',
    ]);
  });
});

/** The pipeline's stages as the template has them. */
function pipelineStages(template: Template): { Name: string; Actions: Record<string, any>[] }[] {
  const pipelines = Object.values(template.findResources('AWS::CodePipeline::Pipeline'));
  assert.equal(pipelines.length, 1);
  return pipelines[0].Properties.Stages;
}

/** The one action of a stage, by the stage's name. */
function action(template: Template, stage: string): Record<string, any> {
  const found = pipelineStages(template).filter((s) => s.Name === stage);
  assert.equal(found.length, 1, `one stage ${stage}`);
  assert.equal(found[0].Actions.length, 1, `one action in ${stage}`);
  return found[0].Actions[0];
}

describe('fleet manifest in the pipeline', () => {
  it('gives the Migrate action UserParameters naming the manifest, exactly {"fleet":{"manifest":KEY}}', () => {
    const { stack, template } = fleetStack({ fleetManifest: 'fleet/manifests/tenants.jsonl' });
    const migrate = action(template, 'Migrate');
    assert.equal(migrate.Configuration.UserParameters, '{"fleet":{"manifest":"fleet/manifests/tenants.jsonl"}}');
    assert.deepEqual(JSON.parse(migrate.Configuration.UserParameters), { fleet: { manifest: 'fleet/manifests/tenants.jsonl' } });
    // Still the trigger, on the source artifact.
    assert.deepEqual(migrate.Configuration.FunctionName, { Ref: stack.getLogicalId(stack.trigger.node.defaultChild as cdk.CfnElement) });
    assert.deepEqual(migrate.InputArtifacts, [{ Name: 'Source' }]);
    assert.deepEqual(Object.keys(migrate.Configuration).sort(), ['FunctionName', 'UserParameters']);
  });

  it('leaves the Migrate action without UserParameters when fleetManifest is not set, with or without fleet', () => {
    for (const { template } of [synth(), fleetStack(), fleetStack({ fleetManifest: '' })]) {
      const migrate = action(template, 'Migrate');
      assert.equal(migrate.Configuration.UserParameters, undefined);
      assert.deepEqual(Object.keys(migrate.Configuration), ['FunctionName']);
    }
  });

  it('names a key under a custom results prefix as given', () => {
    const { template } = fleetStack({ fleetResultsPrefix: 'runs/fleet/', fleetManifest: 'runs/fleet/manifests/eu.csv' });
    assert.deepEqual(JSON.parse(action(template, 'Migrate').Configuration.UserParameters), { fleet: { manifest: 'runs/fleet/manifests/eu.csv' } });
  });

  it('keeps the reviewed pipeline\'s Plan on the stack\'s database: only Migrate runs the fleet', () => {
    const { template } = fleetStack({ reviewedPipeline: true, fleetManifest: 'fleet/manifests/tenants.jsonl' });
    assert.deepEqual(pipelineStages(template).map((s) => s.Name), ['Source', 'Plan', 'Approve', 'Migrate']);
    assert.deepEqual(JSON.parse(action(template, 'Plan').Configuration.UserParameters), { command: 'plan', review: true });
    assert.deepEqual(JSON.parse(action(template, 'Migrate').Configuration.UserParameters), { fleet: { manifest: 'fleet/manifests/tenants.jsonl' } });
  });

  it('fits CodePipeline\'s 1000 characters with the longest key accepted', () => {
    const longest = `fleet/${'m'.repeat(1000 - '{"fleet":{"manifest":"fleet/"}}'.length)}`;
    const params = action(fleetStack({ fleetManifest: longest }).template, 'Migrate').Configuration.UserParameters as string;
    assert.equal(params.length, 1000);
    assert.deepEqual(JSON.parse(params), { fleet: { manifest: longest } });
  });

  it('names a key the trigger\'s role may read, and grants nothing more for it', () => {
    const manifest = 'fleet/manifests/tenants.jsonl';
    const without = fleetStack();
    const withKey = fleetStack({ fleetManifest: manifest });
    const g = grants(withKey.template, withKey.ids.triggerRole);
    assert.deepEqual(resourcesOf(g, 's3:GetObject'), [objects(withKey.ids.bucket, 'fleet/*')]);
    assert.ok(manifest.startsWith('fleet/'));
    // The same roles and policies as without it: the key is only a parameter.
    const policies = (t: Template) => JSON.stringify(statements(t).map((s) => s.statement));
    assert.equal(policies(withKey.template), policies(without.template));
  });

  it('refuses a bad key with one problem that names fleetManifest and says why', () => {
    assert.deepEqual(
      problems({ fleet: true, fleetManifest: 'fleet/../x.jsonl' }),
      ['fleetManifest: "fleet/../x.jsonl" must not hold . or .. segments'],
    );
    assert.deepEqual(problems({ fleet: true, fleetManifest: 'tenants.jsonl' }), [
      'fleetManifest: "tenants.jsonl" must be under fleetResultsPrefix (fleet/), the only place the trigger may read the bucket: e.g. fleet/manifests/tenants.jsonl',
    ]);
  });
});

describe('fleet state machine', () => {
  it('exists only when opted in', () => {
    const { template } = synth();
    template.resourceCountIs('AWS::StepFunctions::StateMachine', 0);
    assert.ok(!JSON.stringify(template.toJSON()).includes('states:'), 'no Step Functions permission without fleet');
    assert.ok(!JSON.stringify(template.toJSON()).includes('FLEET_'), 'no fleet environment without fleet');
    const { machine, template: on } = fleetStack();
    assert.equal(machine.StateMachineType, 'STANDARD');
    assert.equal(machine.StateMachineName, 'LambdaMigrate-fleet');
    assert.deepEqual(machine.TracingConfiguration, { Enabled: false });
    assert.equal(machine.LoggingConfiguration.Level, 'ERROR');
    assert.equal(machine.LoggingConfiguration.IncludeExecutionData, false);
    const groups = on.findResources('AWS::Logs::LogGroup');
    const group = groups[machine.LoggingConfiguration.Destinations[0].CloudWatchLogsLogGroup.LogGroupArn['Fn::GetAtt'][0]].Properties;
    assert.equal(group.LogGroupName, '/aws/vendedlogs/states/LambdaMigrate-fleet');
    assert.equal(group.RetentionInDays, 30);
    assert.ok(on.toJSON().Outputs.FleetStateMachineArn);
  });

  it('substitutes the two functions\' ARNs and the bucket\'s name, and nothing else', () => {
    const { machine, text, ids } = fleetStack();
    assert.deepEqual(machine.DefinitionSubstitutions, {
      [SUBSTITUTIONS.migrator]: { 'Fn::GetAtt': [ids.migrator, 'Arn'] },
      [SUBSTITUTIONS.trigger]: { 'Fn::GetAtt': [ids.trigger, 'Arn'] },
      [SUBSTITUTIONS.bucket]: { Ref: ids.bucket },
    });
    const placeholders = [...text.matchAll(/\$\{(\w+)\}/g)].map((m) => m[1]);
    assert.deepEqual([...new Set(placeholders)].sort(), Object.values(SUBSTITUTIONS).sort());
  });

  it('runs the canary first: an inline Map over $.canary, one at a time, without tolerance', () => {
    const { def } = fleetStack({ fleetMaxConcurrency: 25, fleetToleratedFailurePercentage: 5 });
    assert.equal(def.StartAt, 'Start');
    assert.equal(def.States.Start.Next, 'Canary');
    const canary = def.States.Canary;
    assert.equal(canary.Type, 'Map');
    assert.equal(canary.ItemsPath, '$.canary');
    assert.equal(canary.MaxConcurrency, 1);
    assert.deepEqual(canary.ItemProcessor.ProcessorConfig, { Mode: 'INLINE' });
    for (const key of ['ToleratedFailurePercentage', 'ToleratedFailureCount', 'ToleratedFailurePercentagePath', 'ItemReader']) {
      assert.equal(canary[key], undefined, key);
    }
    // A failure goes to the summary; only success goes on to the fleet.
    assert.equal(canary.Next, 'Fleet');
    assert.deepEqual(canary.Catch, [{ ErrorEquals: ['States.ALL'], ResultPath: '$.aborted.canary', Next: 'Summary' }]);
  });

  it('runs the rest in a Distributed Map with the concurrency and failure budget of the settings', () => {
    for (const [ctx, concurrency, percent] of [
      [{}, 10, '0.0'],
      [{ fleetMaxConcurrency: 25, fleetToleratedFailurePercentage: 5 }, 25, '5.0'],
      [{ fleetToleratedFailurePercentage: '2.5' }, 10, '2.5'],
      [{ fleetToleratedFailurePercentage: 100 }, 10, '100.0'],
    ] as const) {
      const { def, text } = fleetStack(ctx);
      const fleet = def.States.Fleet;
      assert.equal(fleet.Type, 'Map');
      assert.deepEqual(fleet.ItemProcessor.ProcessorConfig, { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' });
      assert.equal(fleet.MaxConcurrency, concurrency);
      assert.equal(fleet.ToleratedFailurePercentage, Number(percent));
      // Written as a float, always: moto's interpreter refuses an integer.
      const written = [...text.matchAll(/"ToleratedFailurePercentage": ([^,\n}]+)/g)].map((m) => m[1]);
      assert.deepEqual(written, [percent]);
      // The summary judges by the same budget, also a float.
      assert.match(text, new RegExp(`"tolerate": ${percent.replace('.', '\\.')}\\n`));
      assert.equal(fleet.Next, 'Summary');
      assert.deepEqual(fleet.Catch, [{ ErrorEquals: ['States.ALL'], ResultPath: '$.aborted.fleet', Next: 'Summary' }]);
    }
  });

  it('reads the items from S3 as JSON and writes the map results under the results prefix', () => {
    const { def } = fleetStack({ fleetResultsPrefix: 'runs/' });
    const fleet = def.States.Fleet;
    assert.deepEqual(fleet.ItemReader, {
      Resource: 'arn:aws:states:::s3:getObject',
      ReaderConfig: { InputType: 'JSON' },
      Parameters: { 'Bucket.$': '$.items.bucket', 'Key.$': '$.items.key' },
    });
    assert.deepEqual(fleet.ResultWriter, {
      Resource: 'arn:aws:states:::s3:putObject',
      Parameters: { Bucket: '${ArtifactBucketName}', Prefix: 'runs/map' },
    });
    assert.equal(fleet.ResultPath, null);
    assert.equal(fleet.Label, 'Fleet');
    // Each iteration gets the run's artifact, command and results, its target, no follow-up yet.
    for (const map of [fleet, def.States.Canary]) {
      assert.deepEqual(map.ItemSelector, {
        'artifact.$': '$.artifact',
        'command.$': '$.command',
        'results.$': '$.results',
        'target.$': '$$.Map.Item.Value',
        follow_ups: 0,
      });
    }
  });

  it('invokes the migrator per target with the artifact, the command, the target and where to write its result', () => {
    const { def } = fleetStack();
    for (const name of ['CanaryInvoke', 'TargetInvoke']) {
      const invoke = findState(def, name);
      assert.equal(invoke.Resource, 'arn:aws:states:::lambda:invoke');
      assert.deepEqual(invoke.Parameters, {
        FunctionName: '${MigratorFunctionArn}',
        Payload: {
          'BucketName.$': '$.artifact.bucket',
          'ObjectKey.$': '$.artifact.key',
          'expected_digest.$': '$.artifact.digest',
          'command.$': '$.command',
          'target.$': '$.target',
          result: {
            'bucket.$': '$.results.bucket',
            'key.$': "States.Format('{}targets/{}/{}.{}.json', $.results.prefix, $.target.name, $.follow_ups, $$.State.RetryCount)",
          },
        },
      });
      assert.deepEqual(invoke.ResultSelector, { 'stopped.$': '$.Payload.stopped' });
      assert.equal(invoke.ResultPath, '$.reply');
      // A minute beyond the migrator's own timeout (300 s by default).
      assert.equal(invoke.TimeoutSeconds, 360);
    }
  });

  it('retries only Lambda\'s service errors and throttling, never a migration failure nor States.ALL', () => {
    const { def } = fleetStack();
    const retries = rules(def, 'Retry');
    assert.deepEqual(retries.map((r) => r.state).sort(), ['CanaryInvoke', 'Summary', 'TargetInvoke']);
    const ours = migrationErrorNames();
    for (const { state, rule } of retries) {
      assert.deepEqual(rule.ErrorEquals, [
        'Lambda.ServiceException',
        'Lambda.AWSLambdaException',
        'Lambda.SdkClientException',
        'Lambda.TooManyRequestsException',
        'Lambda.ClientExecutionTimeoutException',
      ]);
      for (const name of rule.ErrorEquals as string[]) {
        assert.ok(name.startsWith('Lambda.'), `${state} retries ${name}`);
        assert.ok(!ours.includes(name) && !ours.some((k) => name.endsWith(`.${k}`)), `${state} retries our ${name}`);
        assert.ok(!['States.ALL', 'States.TaskFailed', 'Lambda.Unknown', 'Sandbox.Timedout'].includes(name), `${state} retries ${name}`);
      }
      // Backoff: 2 s doubling, capped at a minute, jittered, six attempts.
      assert.deepEqual(
        { ...rule, ErrorEquals: undefined },
        { ErrorEquals: undefined, IntervalSeconds: 2, MaxAttempts: 6, BackoffRate: 2, MaxDelaySeconds: 60, JitterStrategy: 'FULL' },
      );
    }
    assert.deepEqual([...RETRIED_LAMBDA_ERRORS], retries[0].rule.ErrorEquals);
    // States.ALL appears only in the two Maps' Catch, which lead to the summary.
    const catches = rules(def, 'Catch');
    assert.deepEqual(
      catches.map((c) => [c.state, c.rule.ErrorEquals, c.rule.Next]),
      [
        ['Canary', ['States.ALL'], 'Summary'],
        ['Fleet', ['States.ALL'], 'Summary'],
      ],
    );
  });

  it('invokes a target again while it stopped at its deadline, at most fleetMaxFollowUps times', () => {
    for (const max of [10, 0, 3]) {
      const { def, text } = fleetStack(max === 10 ? {} : { fleetMaxFollowUps: max });
      for (const prefix of ['Canary', 'Target']) {
        const choice = findState(def, `${prefix}StoppedAtDeadline`);
        assert.equal(findState(def, `${prefix}Invoke`).Next, `${prefix}StoppedAtDeadline`);
        assert.deepEqual(choice.Choices, [
          { Variable: '$.reply.stopped', BooleanEquals: false, Next: `${prefix}Done` },
          { Variable: '$.follow_ups', NumericLessThan: max, Next: `${prefix}FollowUp` },
        ]);
        assert.equal(choice.Default, `${prefix}FollowUpsExhausted`);
        const followUp = findState(def, `${prefix}FollowUp`);
        assert.equal(followUp.Parameters['follow_ups.$'], 'States.MathAdd($.follow_ups, 1)');
        assert.equal(followUp.Next, `${prefix}Invoke`);
        const exhausted = findState(def, `${prefix}FollowUpsExhausted`);
        assert.equal(exhausted.Type, 'Fail');
        assert.equal(exhausted.Error, 'FollowUpsExhausted');
        assert.equal(findState(def, `${prefix}Done`).End, true);
      }
      // BackoffRate is a float too.
      assert.ok(!/"BackoffRate": 2[,\n]/.test(text));
    }
  });

  it('always ends with the summary, which judges the run against the budget', () => {
    const { def } = fleetStack({ triggerTimeoutSecs: 500 });
    const summary = def.States.Summary;
    assert.equal(summary.Resource, 'arn:aws:states:::lambda:invoke');
    assert.deepEqual(summary.Parameters, {
      FunctionName: '${TriggerFunctionArn}',
      Payload: {
        fleet_summary: {
          'job.$': '$.job',
          'execution.$': '$$.Execution.Id',
          'command.$': '$.command',
          'canary.$': '$.canary',
          'items.$': '$.items',
          'results.$': '$.results',
          'aborted.$': '$.aborted',
          tolerate: 0,
        },
      },
    });
    assert.deepEqual(summary.ResultSelector, { 'passed.$': '$.Payload.passed' });
    assert.equal(summary.TimeoutSeconds, 560);
    assert.equal(summary.Next, 'Verdict');
    assert.deepEqual(def.States.Verdict.Choices, [{ Variable: '$.summary.passed', BooleanEquals: true, Next: 'Succeeded' }]);
    assert.equal(def.States.Verdict.Default, 'Failed');
    assert.equal(def.States.Succeeded.Type, 'Succeed');
    assert.equal(def.States.Failed.Type, 'Fail');
    assert.equal(def.States.Failed.Error, 'FleetFailed');
    // The start keeps the input's fields and an empty `aborted` for the Catch rules to fill.
    assert.deepEqual(def.States.Start.Parameters, {
      'job.$': '$.job',
      'artifact.$': '$.artifact',
      'command.$': '$.command',
      'canary.$': '$.canary',
      'items.$': '$.items',
      'results.$': '$.results',
      aborted: {},
    });
  });

  it('is the builder\'s definition, byte for byte, and the same bytes for the same settings', () => {
    const settings = { maxConcurrency: 7, toleratedFailurePercentage: 12.5, maxFollowUps: 4, migratorTimeoutSecs: 120, triggerTimeoutSecs: 200, resultsPrefix: 'f/' };
    const text = synthesizedDefinition({
      fleetMaxConcurrency: 7,
      fleetToleratedFailurePercentage: '12.5',
      fleetMaxFollowUps: 4,
      migratorTimeoutSecs: 120,
      triggerTimeoutSecs: 200,
      fleetResultsPrefix: 'f/',
      lockTimeoutSecs: 30,
    });
    assert.equal(text, fleetDefinition(settings));
    assert.equal(fleetDefinition(settings), fleetDefinition(settings));
  });

  it('matches test/fleet.asl.json, the file the moto execution test runs (npm run fleet-asl rewrites it)', () => {
    const golden = fs.readFileSync(GOLDEN_FILE, 'utf8');
    assert.equal(golden, goldenText(), 'the stack\'s definition changed: run `npm run fleet-asl` in deploy/ and commit test/fleet.asl.json');
    assert.ok(!golden.includes('${'), 'every placeholder is resolved');
    for (const value of Object.values(GOLDEN_VALUES)) assert.ok(golden.includes(value), value);
    assert.match(golden, /"ToleratedFailurePercentage": 0\.0,/);
    JSON.parse(golden);
  });

  it('synthesizes without warnings or errors', () => {
    for (const ctx of [{}, { artifactEncryption: 'kms', fleetSecretPrefix: PREFIX, reviewedPipeline: true }]) {
      const { stack } = fleetStack(ctx);
      Annotations.fromStack(stack).hasNoWarning('*', Match.anyValue());
      Annotations.fromStack(stack).hasNoError('*', Match.anyValue());
    }
  });
});

describe('fleet IAM', () => {
  it('uses Resource "*" only for actions IAM cannot scope', () => {
    for (const ctx of [{}, { artifactEncryption: 'kms', fleetSecretPrefix: PREFIX, dbSecretArn: undefined, dbIamAuth: true, dbInstanceResourceId: 'db-ABC' }]) {
      const { template } = fleetStack(ctx);
      assert.deepEqual(overbroad(template), []);
    }
  });

  it('lets the state machine invoke the migrator and the trigger, read the items, write the map results, run its children', () => {
    const { template, ids } = fleetStack();
    const g = grants(template, ids.fleetRole);
    assert.deepEqual(
      [...g.keys()].filter((a) => !a.startsWith('logs:')).sort(),
      [
        'lambda:InvokeFunction',
        's3:AbortMultipartUpload',
        's3:GetObject',
        's3:ListMultipartUploadParts',
        's3:PutObject',
        'states:DescribeExecution',
        'states:StartExecution',
        'states:StopExecution',
      ],
    );
    // The unqualified functions, exactly: no versions, no aliases, nothing else.
    assert.deepEqual(resourcesOf(g, 'lambda:InvokeFunction'), [
      JSON.stringify({ 'Fn::GetAtt': [ids.migrator, 'Arn'] }),
      JSON.stringify({ 'Fn::GetAtt': [ids.trigger, 'Arn'] }),
    ]);
    assert.deepEqual(resourcesOf(g, 's3:GetObject'), [objects(ids.bucket, 'fleet/*/items.json'), objects(ids.bucket, 'fleet/map/*')].sort());
    for (const action of ['s3:PutObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts']) {
      assert.deepEqual(resourcesOf(g, action), [objects(ids.bucket, 'fleet/map/*')], action);
    }
    assert.deepEqual(resourcesOf(g, 'states:StartExecution'), [ARN('stateMachine:LambdaMigrate-fleet')]);
    for (const action of ['states:DescribeExecution', 'states:StopExecution']) {
      assert.deepEqual(resourcesOf(g, action), [ARN('execution:LambdaMigrate-fleet/Fleet:*'), ARN('execution:LambdaMigrate-fleet:*')], action);
    }
    // Only the log delivery calls Step Functions needs, which IAM cannot scope.
    for (const [action, list] of g) if (action.startsWith('logs:')) assert.deepEqual(list.flatMap((x) => x.resources), ['"*"'], action);
    // The role is assumed by Step Functions only.
    const role = template.findResources('AWS::IAM::Role')[ids.fleetRole].Properties;
    assert.deepEqual(role.AssumeRolePolicyDocument.Statement.map((s: any) => s.Principal), [{ Service: 'states.amazonaws.com' }]);
  });

  it('names the state machine by its ARN in the trigger\'s policy and environment', () => {
    const { template, ids, stack } = fleetStack();
    const env = template.findResources('AWS::Lambda::Function')[ids.trigger].Properties.Environment.Variables;
    assert.equal(env.FLEET_STATE_MACHINE_ARN, 'arn:aws:states:eu-west-1:123456789012:stateMachine:LambdaMigrate-fleet');
    assert.equal(env.FLEET_RESULTS_PREFIX, 'fleet/');
    assert.equal(env.FLEET_CANARY, '1');
    assert.equal(env.FLEET_SECRET_PREFIX, undefined);
    // The name the state machine gets.
    assert.ok(stack.fleet !== undefined);
    assert.equal(Object.values(template.findResources('AWS::StepFunctions::StateMachine'))[0].Properties.StateMachineName, 'LambdaMigrate-fleet');
  });

  it('lets the trigger start and follow the state machine, write under the results prefix and read it back', () => {
    const { template, ids } = fleetStack({ fleetResultsPrefix: 'runs/' });
    const g = grants(template, ids.triggerRole);
    const fleetActions = [...g.keys()].filter((a) => a.startsWith('states:') || a === 's3:GetObject' || a === 's3:ListBucket').sort();
    assert.deepEqual(fleetActions, ['s3:GetObject', 's3:ListBucket', 'states:DescribeExecution', 'states:DescribeMapRun', 'states:ListMapRuns', 'states:StartExecution']);
    assert.deepEqual(resourcesOf(g, 'states:StartExecution'), [ARN('stateMachine:LambdaMigrate-fleet')]);
    assert.deepEqual(resourcesOf(g, 'states:DescribeExecution'), [ARN('execution:LambdaMigrate-fleet:*')]);
    assert.deepEqual(resourcesOf(g, 'states:ListMapRuns'), [ARN('execution:LambdaMigrate-fleet:*')]);
    assert.deepEqual(resourcesOf(g, 'states:DescribeMapRun'), [ARN('mapRun:LambdaMigrate-fleet/Fleet:*')]);
    assert.deepEqual(resourcesOf(g, 's3:GetObject'), [objects(ids.bucket, 'runs/*')]);
    // Its reports beside the artifacts, as before, and the runs' folder.
    assert.ok(resourcesOf(g, 's3:PutObject').includes(objects(ids.bucket, 'runs/*')));
    assert.deepEqual(g.get('s3:ListBucket'), [
      { resources: [JSON.stringify({ 'Fn::GetAtt': [ids.bucket, 'Arn'] })], condition: { StringLike: { 's3:prefix': ['runs/*'] } } },
    ]);
    // The trigger never stops an execution, and never reads outside the prefix.
    assert.equal(g.get('states:StopExecution'), undefined);
  });

  it('lets the migrator write its results under targets/ only, and read only the targets\' secrets', () => {
    let { template, ids } = fleetStack();
    let g = grants(template, ids.migratorRole);
    assert.deepEqual(resourcesOf(g, 's3:PutObject'), [objects(ids.bucket, 'fleet/*/targets/*')]);
    // Without a prefix: only the stack's own database secret, and no FLEET_SECRET_PREFIX.
    assert.deepEqual(resourcesOf(g, 'secretsmanager:GetSecretValue'), [JSON.stringify(BASE_CONTEXT.dbSecretArn)]);
    assert.equal(template.findResources('AWS::Lambda::Function')[ids.migrator].Properties.Environment.Variables.FLEET_SECRET_PREFIX, undefined);

    ({ template, ids } = fleetStack({ fleetSecretPrefix: PREFIX }));
    g = grants(template, ids.migratorRole);
    assert.deepEqual(resourcesOf(g, 'secretsmanager:GetSecretValue'), [JSON.stringify(BASE_CONTEXT.dbSecretArn), JSON.stringify(`${PREFIX}*`)].sort());
    for (const id of [ids.migrator, ids.trigger]) {
      assert.equal(template.findResources('AWS::Lambda::Function')[id].Properties.Environment.Variables.FLEET_SECRET_PREFIX, PREFIX, id);
    }
    // Nobody else reads secrets.
    for (const { roles, statement } of statements(template)) {
      if (asList(statement.Action).some((a) => a.startsWith('secretsmanager:'))) {
        assert.deepEqual(roles, [{ Ref: ids.migratorRole }]);
      }
    }
  });

  it('creates the Secrets Manager endpoint for the targets\' secrets even with IAM auth', () => {
    const iamAuth = { dbSecretArn: undefined, dbIamAuth: true, dbInstanceResourceId: 'db-ABC' };
    const interfaces = (t: Template) =>
      Object.values(t.findResources('AWS::EC2::VPCEndpoint')).filter((e) => e.Properties.VpcEndpointType === 'Interface').length;
    assert.equal(interfaces(fleetStack({ ...iamAuth, fleetSecretPrefix: PREFIX }).template), 1);
    assert.equal(interfaces(fleetStack({ ...iamAuth, fleetSecretPrefix: PREFIX, createSecretsManagerEndpoint: false }).template), 0);
    assert.equal(interfaces(fleetStack(iamAuth).template), 0);
    assert.equal(interfaces(fleetStack().template), 1, 'the database secret\'s, once');
  });

  it('asks KMS only through S3 for a KMS-encrypted bucket', () => {
    const { template, ids } = fleetStack({ artifactEncryption: 'kms' });
    const key = JSON.stringify({ 'Fn::GetAtt': [ids.key, 'Arn'] });
    const viaS3 = { StringEquals: { 'kms:ViaService': 's3.eu-west-1.amazonaws.com' } };
    const expect: [string, string[]][] = [
      [ids.fleetRole, ['kms:Decrypt', 'kms:GenerateDataKey']],
      [ids.migratorRole, ['kms:Decrypt', 'kms:GenerateDataKey']],
      [ids.triggerRole, ['kms:Decrypt', 'kms:GenerateDataKey']],
    ];
    for (const [role, actions] of expect) {
      const g = grants(template, role);
      assert.deepEqual([...g.keys()].filter((a) => a.startsWith('kms:')).sort(), actions, role);
      for (const action of actions) {
        for (const grant of g.get(action)!) {
          assert.deepEqual(grant.resources, [key], `${role} ${action}`);
          // The migrator decrypts the artifact with the unconditioned grant it always had.
          if (!(role === ids.migratorRole && action === 'kms:Decrypt')) assert.deepEqual(grant.condition, viaS3, `${role} ${action}`);
        }
      }
    }
  });
});
