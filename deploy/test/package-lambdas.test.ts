import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DEPLOY_DIR } from './helpers';

const SCRIPT = path.join(path.dirname(DEPLOY_DIR), 'scripts', 'package-lambdas');
const hasGcc = spawnSync('gcc', ['--version']).status === 0;

/** Writes a zip with Python's zipfile (a real writer), one entry per [name, file, mode]. */
function writeZip(zip: string, entries: [string, string, number][]): void {
  fs.mkdirSync(path.dirname(zip), { recursive: true });
  const py = `
import json, sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
    for name, src, mode in json.loads(sys.argv[2]):
        info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
        info.external_attr = mode << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        z.writestr(info, open(src, "rb").read())
`;
  const r = spawnSync('python3', ['-c', py, zip, JSON.stringify(entries)], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
}

/** Compiles C source to an executable with extra linker arguments. */
function cc(dir: string, name: string, source: string, extra: string[] = []): string {
  const src = path.join(dir, `${name}.c`);
  const out = path.join(dir, name);
  fs.writeFileSync(src, source);
  const r = spawnSync('gcc', ['-O1', '-o', out, src, ...extra], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return out;
}

/** Runs the script's checks on a lambda dir holding one function called `fn`. */
function check(lambdaDir: string, ...args: string[]) {
  return spawnSync('bash', [SCRIPT, '--check-only', '--lambda-dir', lambdaDir, '--bin', 'fn', ...args], {
    encoding: 'utf8',
  });
}

describe('scripts/package-lambdas --check-only', { skip: hasGcc ? false : 'gcc is not installed' }, () => {
  let dir = '';
  let ok = '';
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lm-pkg-'));
    ok = cc(dir, 'ok', 'int main(void) { return 0; }\n');
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** A fresh lambda dir whose fn/bootstrap.zip holds the given entries. */
  function lambdaDir(entries: [string, string, number][]): string {
    const d = fs.mkdtempSync(path.join(dir, 'lambda-'));
    writeZip(path.join(d, 'fn', 'bootstrap.zip'), entries);
    return d;
  }

  it('accepts an executable bootstrap that needs only glibc up to 2.34', () => {
    const r = check(lambdaDir([['bootstrap', ok, 0o755]]));
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /ok .*fn\/bootstrap\.zip .*X86-64, glibc 2\.\d+/);
  });

  it('accepts a CA bundle beside the bootstrap', () => {
    const pem = path.join(dir, 'ca.pem');
    fs.writeFileSync(pem, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    const r = check(lambdaDir([['bootstrap', ok, 0o755], ['certs/rds-global-bundle.pem', pem, 0o644]]));
    assert.equal(r.status, 0, r.stderr);
  });

  it('rejects a missing zip', () => {
    const r = check(fs.mkdtempSync(path.join(dir, 'empty-')));
    assert.equal(r.status, 1);
    assert.match(r.stderr, /missing or empty/);
  });

  it('rejects a bootstrap that is not executable', () => {
    const r = check(lambdaDir([['bootstrap', ok, 0o644]]));
    assert.equal(r.status, 1);
    assert.match(r.stderr, /not executable/);
  });

  it('rejects a bootstrap that is not at the zip root', () => {
    const r = check(lambdaDir([['release/bootstrap', ok, 0o755]]));
    assert.equal(r.status, 1);
    assert.match(r.stderr, /no bootstrap at the root/);
  });

  it('rejects a binary for the other architecture', () => {
    const r = check(lambdaDir([['bootstrap', ok, 0o755]]), '--arch', 'arm64');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /expected 'AArch64'/);
  });

  it('rejects a binary needing a glibc newer than Amazon Linux 2023 has', (t) => {
    // arc4random arrived in glibc 2.36; skip where the build host's glibc is older.
    const r0 = spawnSync('gcc', ['-x', 'c', '-o', path.join(dir, 'probe'), '-'], {
      input: '#include <stdlib.h>\nint main(void) { return (int)(arc4random() & 1); }\n',
      encoding: 'utf8',
    });
    if (r0.status !== 0) {
      t.skip('this glibc has no arc4random');
      return;
    }
    const r = check(lambdaDir([['bootstrap', path.join(dir, 'probe'), 0o755]]));
    assert.equal(r.status, 1);
    assert.match(r.stderr, /needs GLIBC_2\.3[5-9]/);
  });

  it('rejects a binary needing a shared library the runtime does not ship', () => {
    const lib = path.join(dir, 'libextra.so');
    const src = path.join(dir, 'extra.c');
    fs.writeFileSync(src, 'int extra(void) { return 7; }\n');
    assert.equal(spawnSync('gcc', ['-shared', '-fPIC', '-o', lib, src]).status, 0);
    const exe = cc(dir, 'linked', 'int extra(void);\nint main(void) { return extra(); }\n', [`-L${dir}`, '-lextra']);
    const r = check(lambdaDir([['bootstrap', exe, 0o755]]));
    assert.equal(r.status, 1);
    assert.match(r.stderr, /needs libextra\.so/);
  });

  it('rejects unknown options', () => {
    const r = spawnSync('bash', [SCRIPT, '--frobnicate'], { encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /unknown argument: --frobnicate/);
  });
});
