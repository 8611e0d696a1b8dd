#!/usr/bin/env node
import * as cdk from 'aws-cdk-lib';
import { ConfigError, loadConfig } from '../lib/config';
import { LambdaMigrateStack } from '../lib/stack';

/** Context keys set by the CDK itself or by cdk.json's feature flags, not by the user. */
function isUserKey(key: string): boolean {
  return !key.startsWith('@') && !key.startsWith('aws:') && !key.startsWith('cdk') && !key.includes(':');
}

const app = new cdk.App();
try {
  const userKeys = Object.keys(app.node.getAllContext()).filter(isUserKey);
  const config = loadConfig((key) => app.node.tryGetContext(key), userKeys);
  new LambdaMigrateStack(app, config.stackName, {
    stackName: config.stackName,
    config,
    env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
    description: 'lambda-migrate: applies sql-migrate migrations from a CodePipeline artifact',
  });
  app.synth();
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(err.message);
    process.exit(2);
  }
  throw err;
}
