#!/usr/bin/env php
<?php

declare(strict_types=1);

use AsyncAws\Sqs\SqsClient;
use WebhookIngress\Worker\Logger;
use WebhookIngress\Worker\Options;
use WebhookIngress\Worker\S3BodyFetcher;
use WebhookIngress\Worker\Store;
use WebhookIngress\Worker\Worker;

$autoloaders = [__DIR__ . '/../vendor/autoload.php', __DIR__ . '/../../../autoload.php'];
$composer = array_values(array_filter($autoloaders, 'is_file'));
require $composer !== [] ? $composer[0] : __DIR__ . '/../src/autoload.php';

const USAGE = <<<'TXT'
Usage: php worker.php --handler FILE [--once] [--max-messages N]
       php worker.php --migrate

Consumes the webhook ingress's SQS queue: decodes each body, skips test events, and runs the
handler once per event, inside one PDO transaction with the insert of its deduplication key;
deletes the message after the commit. A handler that throws leaves the message for a retry
(and, after the queue's maxReceiveCount, the DLQ). SIGTERM or SIGINT: finish the current
message, receive nothing more, exit 0.

Options:
  --handler FILE      PHP file returning a callable function (Event $event, \PDO $tx): void
  --once              one ReceiveMessage (up to 10 messages), then exit
  --max-messages N    exit after N messages
  --migrate           create the processed-events table if missing, then exit
  --help              this text

Environment:
  QUEUE_URL                   the queue to consume (required unless --migrate)
  WORKER_STORE_DSN            PDO DSN of the store: sqlite:/path, pgsql:host=..;dbname=.., mysql:host=..;dbname=..
  WORKER_STORE_USER, WORKER_STORE_PASSWORD   its credentials, if any
  WORKER_STORE_TABLE          the processed-events table (default processed_events)
  WORKER_SQLITE_BUSY_SECONDS  SQLite: how long to wait for another writer's lock (default 30)
  AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_PROFILE, ...
                              the AWS SDK's usual settings (roles on ECS, EKS and EC2 too)
  AWS_ENDPOINT_URL            custom endpoint for every service (AWS_ENDPOINT_URL_SQS, _S3 per service)
  LARGE_BODY_BUCKET_REGION    the claim-check bucket's region (default AWS_REGION)
  WORKER_WAIT_SECONDS         long-poll wait, 0-20 (default 20; also the longest wait for a stop)
  WORKER_VISIBILITY_TIMEOUT   seconds a received message stays invisible (default: the queue's)
  WORKER_BACKOFF_SECONDS      first retry delay after a failure, doubling per receive (default 5)
  WORKER_BACKOFF_MAX_SECONDS  longest retry delay (default 900)
  WORKER_BATCH_SIZE           messages per receive, 1-10 (default 10)

A store that fails before a handler runs (unreachable, locked) stops the worker with exit 1, its
messages left on the queue, rather than failing every message into the DLQ.

Exit: 0 done or stopped, 1 failure (configuration, queue or store), 2 usage.
TXT;

function usage_error(string $message): never
{
    fwrite(STDERR, "worker.php: $message\n\n" . USAGE . "\n");
    exit(2);
}

$args = array_slice($argv, 1);
$options = ['handler' => null, 'once' => false, 'max-messages' => null, 'migrate' => false];
while ($args !== []) {
    $arg = array_shift($args);
    $value = null;
    if (str_contains($arg, '=') && str_starts_with($arg, '--')) {
        [$arg, $value] = explode('=', $arg, 2);
    }
    switch ($arg) {
        case '--help':
        case '-h':
            echo USAGE, "\n";
            exit(0);
        case '--once':
        case '--migrate':
            $options[substr($arg, 2)] = true;
            break;
        case '--handler':
        case '--max-messages':
            $value ??= array_shift($args);
            if ($value === null || $value === '') {
                usage_error("$arg needs a value");
            }
            $options[substr($arg, 2)] = $value;
            break;
        default:
            usage_error("unknown argument $arg");
    }
}
if ($options['max-messages'] !== null) {
    if (!preg_match('/^[1-9]\d{0,8}$/', $options['max-messages'])) {
        usage_error('--max-messages needs a positive whole number');
    }
    $options['max-messages'] = (int) $options['max-messages'];
}
if (!$options['migrate'] && $options['handler'] === null) {
    usage_error('give --handler FILE (or --migrate)');
}

$log = new Logger();
$env = getenv();
try {
    $dsn = $env['WORKER_STORE_DSN'] ?? '';
    if ($dsn === '') {
        throw new InvalidArgumentException('WORKER_STORE_DSN is not set (a PDO DSN such as sqlite:/var/lib/worker/store.db)');
    }
    $busy = ($env['WORKER_SQLITE_BUSY_SECONDS'] ?? '') ?: '30';
    if (!preg_match('/^\d{1,5}$/', $busy)) {
        throw new InvalidArgumentException('WORKER_SQLITE_BUSY_SECONDS must be a whole number of seconds');
    }
    $store = Store::connect($dsn, $env['WORKER_STORE_USER'] ?? null, $env['WORKER_STORE_PASSWORD'] ?? null, ($env['WORKER_STORE_TABLE'] ?? '') ?: Store::DEFAULT_TABLE, (int) $busy);
    $store->migrate();
    if ($options['migrate']) {
        $log->info('processed-events table ready', ['driver' => $store->driver(), 'table' => $store->table]);
        exit(0);
    }

    $handler = (static fn (string $file) => require $file)(is_file($options['handler']) ? $options['handler'] : throw new InvalidArgumentException("the handler file {$options['handler']} does not exist"));
    if (!is_callable($handler)) {
        throw new InvalidArgumentException("the handler file {$options['handler']} must return a callable: return function (Event \$event, \\PDO \$tx): void { ... };");
    }
    $queueUrl = $env['QUEUE_URL'] ?? '';
    if ($queueUrl === '') {
        throw new InvalidArgumentException('QUEUE_URL is not set');
    }
    $region = ($env['AWS_REGION'] ?? '') ?: (($env['AWS_DEFAULT_REGION'] ?? '') ?: null);
    $sqsEndpoint = ($env['AWS_ENDPOINT_URL_SQS'] ?? '') ?: (($env['AWS_ENDPOINT_URL'] ?? '') ?: null);
    $s3Endpoint = ($env['AWS_ENDPOINT_URL_S3'] ?? '') ?: (($env['AWS_ENDPOINT_URL'] ?? '') ?: null);
    $newClient = static fn (): SqsClient => new SqsClient(array_filter(['region' => $region, 'endpoint' => $sqsEndpoint]));
    $bucketRegion = ($env['LARGE_BODY_BUCKET_REGION'] ?? '') ?: ($region ?? 'us-east-1');
    $worker = new Worker($newClient, $queueUrl, $store, $handler, new S3BodyFetcher($bucketRegion, $s3Endpoint), Options::fromEnv($env), $log);
} catch (Throwable $e) {
    $log->error('cannot start', ['error' => $e->getMessage()]);
    exit(1);
}

$worker->stopOnSignals();
try {
    $worker->run($options['once'], $options['max-messages']);
} catch (Throwable $e) {
    $log->error('worker failed', ['error' => get_class($e) . ': ' . $e->getMessage()]);
    exit(1);
}
exit(0);
