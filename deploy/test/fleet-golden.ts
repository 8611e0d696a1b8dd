import * as fs from 'node:fs';
import * as path from 'node:path';
import { SUBSTITUTIONS, substitute } from '../lib/asl';
import { DEPLOY_DIR, synth } from './helpers';

/**
 * The fleet definition as the stack deploys it with the default fleet settings (BASE_CONTEXT
 * plus `fleet=true`), its placeholders resolved to fixed names: the file the moto execution
 * test reads, without node. `npm run fleet-asl` rewrites it; fleet.test.ts fails when it is stale.
 */
export const GOLDEN_FILE = path.join(DEPLOY_DIR, 'test', 'fleet.asl.json');

/** What the golden file's placeholders become: moto's default region and account. */
export const GOLDEN_VALUES: Readonly<Record<string, string>> = {
  [SUBSTITUTIONS.migrator]: 'arn:aws:lambda:us-east-1:123456789012:function:lambda-migrate-migrator',
  [SUBSTITUTIONS.trigger]: 'arn:aws:lambda:us-east-1:123456789012:function:lambda-migrate-trigger',
  [SUBSTITUTIONS.bucket]: 'lambda-migrate-artifacts',
};

/** The synthesized definition string of the stack's state machine, placeholders unresolved. */
export function synthesizedDefinition(context: Record<string, unknown> = {}): string {
  const { template } = synth({ fleet: true, ...context });
  const machines = Object.values(template.findResources('AWS::StepFunctions::StateMachine'));
  if (machines.length !== 1) throw new Error(`expected one state machine, found ${machines.length}`);
  const definition: unknown = machines[0].Properties.DefinitionString;
  if (typeof definition !== 'string') throw new Error(`DefinitionString is not a literal string: ${JSON.stringify(definition)}`);
  return definition;
}

/** The golden file's text: the default stack's definition, resolved, with a final newline. */
export function goldenText(): string {
  return substitute(synthesizedDefinition(), GOLDEN_VALUES) + '\n';
}

// `node dist/test/fleet-golden.js` (npm run fleet-asl) rewrites the file.
if (require.main === module) {
  fs.writeFileSync(GOLDEN_FILE, goldenText());
  console.log(`wrote ${path.relative(process.cwd(), GOLDEN_FILE)}`);
}
