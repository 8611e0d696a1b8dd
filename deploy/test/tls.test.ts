import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, DB_TLS_VALUES, PACKAGED_CA_BUNDLE } from '../lib/config';
import { DEPLOY_DIR, load, synth } from './helpers';

const REPO = path.dirname(DEPLOY_DIR);

/** The spellings the binary accepts: the names in engine/src/db/config/params.rs's TLS_MODES. */
function binaryTlsModes(): string[] {
  const rs = fs.readFileSync(path.join(REPO, 'engine', 'src', 'db', 'config', 'params.rs'), 'utf8');
  const start = rs.indexOf('pub const TLS_MODES');
  assert.ok(start >= 0, 'params.rs declares TLS_MODES');
  const body = rs.slice(start, rs.indexOf('];', start));
  return [...body.matchAll(/\("([a-z_-]+)", Tls::/g)].map((m) => m[1]);
}

function migratorEnv(overrides: Record<string, unknown>): Record<string, string> {
  const { stack, template } = synth(overrides);
  const id = stack.getLogicalId(stack.migrator.node.defaultChild as never);
  return template.findResources('AWS::Lambda::Function')[id].Properties.Environment.Variables;
}

describe('dbTls', () => {
  it('accepts exactly the values the binary accepts too, passing each on as DB_TLS', () => {
    const binary = binaryTlsModes();
    assert.ok(binary.includes('required') && binary.includes('skip-verify'), binary.join(','));
    assert.deepEqual([...DB_TLS_VALUES], ['required', 'preferred', 'disabled']);
    for (const value of DB_TLS_VALUES) {
      assert.ok(binary.includes(value), `dbTls=${value} is not in the binary's TLS_MODES (${binary.join(', ')})`);
      assert.equal(load({ dbTls: value }).dbTls, value);
      assert.equal(migratorEnv({ dbTls: value }).DB_TLS, value);
    }
    for (const bad of ['sometimes', 'REQUIRED ', 'verify-full']) {
      assert.throws(() => load({ dbTls: bad }), (e: unknown) => e instanceof ConfigError && e.problems.some((p) => p.startsWith('dbTls:')));
    }
  });

  it('trusts the packaged RDS CA bundle whenever TLS is required, with a password as with IAM', () => {
    const secret = migratorEnv({ dbTls: 'required' });
    assert.equal(secret.DB_TLS, 'required');
    assert.equal(secret.DB_CA_BUNDLE, PACKAGED_CA_BUNDLE);
    const iam = migratorEnv({ dbSecretArn: undefined, dbIamAuth: 'true', dbInstanceResourceId: 'db-ABCDEFGHIJKLMNOPQRSTUVWXY1' });
    assert.equal(iam.DB_CA_BUNDLE, PACKAGED_CA_BUNDLE);
    // An explicit bundle wins; without verification there is nothing to trust.
    assert.equal(migratorEnv({ dbTls: 'required', dbCaBundle: '/opt/ca.pem' }).DB_CA_BUNDLE, '/opt/ca.pem');
    for (const tls of ['preferred', 'disabled', undefined]) {
      assert.equal(migratorEnv({ dbTls: tls }).DB_CA_BUNDLE, undefined, `dbTls=${tls}`);
    }
  });

  it('packages a bundle of parseable RDS CA certificates where DB_CA_BUNDLE points', () => {
    const text = fs.readFileSync(path.join(DEPLOY_DIR, 'certs', 'rds-global-bundle.pem'), 'utf8');
    const pems = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    assert.ok(pems.length >= 50, `${pems.length} certificates`);
    const subjects = pems.map((p) => new X509Certificate(p)).map((c) => {
      assert.ok(c.ca, c.subject);
      return c.subject;
    });
    assert.ok(subjects.some((s) => /CN=Amazon RDS eu-west-1 Root CA RSA2048 G1/.test(s)));
    assert.ok(subjects.some((s) => /CN=Amazon Root CA 1/.test(s)), 'RDS Proxy chains to Amazon Root CA 1');
    const script = fs.readFileSync(path.join(REPO, 'scripts', 'package-lambdas'), 'utf8');
    assert.match(script, /^ca_bundle="deploy\/certs\/rds-global-bundle\.pem"$/m);
    assert.equal(PACKAGED_CA_BUNDLE, '/var/task/certs/rds-global-bundle.pem');
  });
});
