<?php

declare(strict_types=1);

namespace WebhookIngress\Worker\Tests\Integration;

use AsyncAws\Sqs\SqsClient;
use PHPUnit\Framework\Assert;

/**
 * A private outbox table, queue, DLQ, FIFO queue, bucket and secret on the moto server at
 * MOTO_ENDPOINT (provisioned by scripts/localstack.py, as `make up` does), and the real ingress,
 * sweeper and outboxctl binaries (target/debug, built by `cargo test --workspace --no-run`) started
 * against them. Bodies reach the queue only through those binaries.
 */
final class Stack
{
    public const REGION = 'us-east-1';
    public const SOURCE = 'market';

    public readonly string $root;
    public readonly string $endpoint;
    public readonly string $table;
    public string $queueUrl;
    public string $dlqUrl;
    public string $fifoUrl;
    public readonly string $bucket;
    public readonly string $parameter;
    public readonly string $secret;
    public readonly SqsClient $sqs;
    private string $key;
    /** @var list<Process> */
    private array $processes = [];

    public function __construct(public readonly string $dir)
    {
        $this->root = dirname(__DIR__, 4);
        $this->endpoint = self::motoEndpoint();
        $name = 'php-' . bin2hex(random_bytes(4));
        $this->table = "$name-outbox";
        $this->bucket = "$name-bodies";
        $this->parameter = "/$name/secret";
        $this->key = random_bytes(24);
        $this->secret = 'whsec_' . base64_encode($this->key);
        $python = $this->root . '/.venv/bin/python';
        if (!is_executable($python)) {
            Assert::fail("no $python: run `make venv` (or `make test-php`, which does)");
        }
        $out = self::run([$python, $this->root . '/scripts/localstack.py', '--endpoint', $this->endpoint,
            '--table', $this->table, '--queue', "$name-events", '--dlq', "$name-events-dlq",
            '--parameter', $this->parameter, '--secret', $this->secret, '--bucket', $this->bucket]);
        $provisioned = json_decode($out, true, 8, JSON_THROW_ON_ERROR);
        $this->queueUrl = $provisioned['queue_url'];
        $this->dlqUrl = $provisioned['dlq_url'];
        $this->sqs = new SqsClient(['endpoint' => $this->endpoint, 'region' => self::REGION, 'accessKeyId' => 'test', 'accessKeySecret' => 'test']);
        $this->newQueues();
    }

    /**
     * Fresh queues for the next test (SQS allows one purge a minute): a main queue and its DLQ
     * shaped as scripts/localstack.py shapes them (maxReceiveCount 5), and a FIFO queue for routes.
     */
    public function newQueues(): void
    {
        $name = 'php-' . bin2hex(random_bytes(4));
        $this->dlqUrl = $this->sqs->createQueue(['QueueName' => "$name-dlq"])->getQueueUrl();
        $dlqArn = $this->sqs->getQueueAttributes(['QueueUrl' => $this->dlqUrl, 'AttributeNames' => ['QueueArn']])->getAttributes()['QueueArn'];
        $this->queueUrl = $this->sqs->createQueue(['QueueName' => "$name-events", 'Attributes' => [
            'VisibilityTimeout' => '60',
            'RedrivePolicy' => json_encode(['deadLetterTargetArn' => $dlqArn, 'maxReceiveCount' => 5]),
        ]])->getQueueUrl();
        $this->fifoUrl = $this->sqs->createQueue(['QueueName' => "$name-orders.fifo", 'Attributes' => ['FifoQueue' => 'true', 'VisibilityTimeout' => '60']])->getQueueUrl();
    }

    /** MOTO_ENDPOINT, checked: a test without the emulator fails and says how to start it. */
    public static function motoEndpoint(): string
    {
        $endpoint = getenv('MOTO_ENDPOINT') ?: 'http://127.0.0.1:4566';
        $parts = parse_url($endpoint);
        $socket = @fsockopen($parts['host'] ?? '127.0.0.1', $parts['port'] ?? 80, $errno, $error, 1.0);
        if ($socket === false) {
            Assert::fail("no moto server at $endpoint: start it with `make moto` (or run `make test-php`, which starts it), or set MOTO_ENDPOINT");
        }
        fclose($socket);
        return $endpoint;
    }

    public function binary(string $name): string
    {
        $path = (getenv('CARGO_TARGET_DIR') ?: $this->root . '/target') . "/debug/$name";
        if (!is_executable($path)) {
            Assert::fail("no $path: build the binaries with `cargo test --workspace --no-run` (`make build`)");
        }
        return $path;
    }

    /** @return array<string, string> the environment of the ingress and sweeper for this stack */
    public function env(array $overrides = []): array
    {
        return $overrides + [
            'AWS_ENDPOINT_URL' => $this->endpoint,
            'AWS_REGION' => self::REGION,
            'AWS_ACCESS_KEY_ID' => 'test',
            'AWS_SECRET_ACCESS_KEY' => 'test',
            'SOURCE_NAME' => self::SOURCE,
            'OUTBOX_TABLE' => $this->table,
            'QUEUE_URL' => $this->queueUrl,
            'SECRET_PARAMETER' => $this->parameter,
            'SIGNATURE_SCHEME' => 'standard-webhooks',
            'MAX_BODY_BYTES' => '6291456',
            'LARGE_BODY_BUCKET' => $this->bucket,
            'RESPONSE_BUDGET_MS' => '30000',
            'PENDING_SHARDS' => '2',
            'GRACE_SECS' => '0',
            // Events whose type starts with "order." go to the FIFO queue, grouped by their order id.
            'ROUTES' => json_encode([[
                'name' => 'orders', 'pointer' => '/type', 'prefix' => 'order.',
                'queue_url' => $this->fifoUrl, 'group_pointer' => '/order_id',
            ]]),
            'RUST_LOG' => 'info',
            'PATH' => getenv('PATH') ?: '/usr/bin:/bin',
        ];
    }

    /** Starts the ingress binary in HTTP mode; returns its URL once it listens. */
    public function ingress(array $overrides = []): string
    {
        $port = self::freePort();
        $name = 'ingress-' . count($this->processes);
        $this->processes[] = Process::start([$this->binary('ingress')], $this->env($overrides + ['INGRESS_LISTEN' => "127.0.0.1:$port"]), "$this->dir/$name.log");
        $deadline = microtime(true) + 30;
        while (($socket = @fsockopen('127.0.0.1', $port, $errno, $error, 0.2)) === false) {
            if (microtime(true) > $deadline || !end($this->processes)->running()) {
                Assert::fail("the ingress did not start listening on $port: " . @file_get_contents("$this->dir/$name.log"));
            }
            usleep(50_000);
        }
        fclose($socket);
        return "http://127.0.0.1:$port/";
    }

    /** An ingress whose SQS is down: it answers 200 and leaves the row pending for the sweeper. */
    public function ingressWithoutSqs(): string
    {
        return $this->ingress(['AWS_ENDPOINT_URL_SQS' => 'http://127.0.0.1:' . self::freePort()]);
    }

    /** An ingress whose DynamoDB is down: it sends the message without a row, so a retry sends it again. */
    public function ingressWithoutDynamoDb(): string
    {
        return $this->ingress(['AWS_ENDPOINT_URL_DYNAMODB' => 'http://127.0.0.1:' . self::freePort()]);
    }

    /** One sweep (GRACE_SECS=0): sends every pending row, `delivered-by: sweeper`. */
    public function sweep(): void
    {
        self::run([$this->binary('sweeper')], $this->env());
    }

    /** `outboxctl send-test --yes` against the ingress at $url. */
    public function sendTest(string $url): string
    {
        $out = self::run([$this->binary('outboxctl'), 'send-test', '--yes', '--url', $url], $this->env(['INGRESS_URL' => $url]), $this->dir);
        preg_match('/outboxctl-test-\d+/', $out, $match) || Assert::fail("send-test printed no event id: $out");
        return $match[0];
    }

    /**
     * POSTs a body signed as a Standard Webhooks sender signs it; returns the HTTP status, 0 for none.
     */
    public function post(string $url, string $id, string $body, int $timeout = 60): int
    {
        return self::postSigned($url, $this->key, $id, $body, $timeout);
    }

    /** The raw HMAC key of the stack's `whsec_` secret. */
    public function signingKey(): string
    {
        return $this->key;
    }

    public static function postSigned(string $url, string $key, string $id, string $body, int $timeout = 60): int
    {
        $timestamp = (string) time();
        $signature = base64_encode(hash_hmac('sha256', "$id.$timestamp.$body", $key, true));
        $context = stream_context_create(['http' => [
            'method' => 'POST',
            'header' => "content-type: application/json\r\nwebhook-id: $id\r\nwebhook-timestamp: $timestamp\r\nwebhook-signature: v1,$signature\r\n",
            'content' => $body,
            'ignore_errors' => true,
            'timeout' => $timeout,
            'protocol_version' => 1.1,
        ]]);
        $answer = @file_get_contents($url, false, $context);
        if ($answer === false && !isset($http_response_header)) {
            return 0; // no answer: refused, reset or timed out
        }
        preg_match('#^HTTP/\S+ (\d{3})#', $http_response_header[0] ?? '', $status);
        return (int) ($status[1] ?? 0);
    }

    /** POSTs and asserts the ingress accepted it. */
    public function deliver(string $url, string $id, string $body): void
    {
        Assert::assertSame(200, $this->post($url, $id, $body), "the ingress did not accept $id");
    }

    /** Starts the worker (bin/worker.php) on $queueUrl with the test handler. */
    public function worker(string $queueUrl, string $store, array $args, array $env = []): Process
    {
        $kit = dirname(__DIR__, 2);
        return Process::start(
            array_merge([PHP_BINARY, "$kit/bin/worker.php", '--handler', __DIR__ . '/handler.php'], $args),
            $env + [
                'QUEUE_URL' => $queueUrl,
                'WORKER_STORE_DSN' => "sqlite:$store",
                'AWS_ENDPOINT_URL' => $this->endpoint,
                'AWS_REGION' => self::REGION,
                'AWS_ACCESS_KEY_ID' => 'test',
                'AWS_SECRET_ACCESS_KEY' => 'test',
                'WORKER_WAIT_SECONDS' => '1',
                'WORKER_BACKOFF_SECONDS' => '0',
                'TEST_HANDLER_DIR' => $this->dir,
                'PATH' => getenv('PATH') ?: '/usr/bin:/bin',
            ],
            "$this->dir/worker-" . bin2hex(random_bytes(3)) . '.log',
        );
    }

    /**
     * Messages currently visible on a queue, received (and so hidden for $visibility s).
     *
     * @return list<\AsyncAws\Sqs\ValueObject\Message>
     */
    public function receive(string $queueUrl, int $wait = 0, int $visibility = 30): array
    {
        $messages = $this->sqs->receiveMessage(['QueueUrl' => $queueUrl, 'MaxNumberOfMessages' => 10, 'WaitTimeSeconds' => $wait,
            'VisibilityTimeout' => $visibility, 'MessageAttributeNames' => ['All']])->getMessages();
        return is_array($messages) ? $messages : iterator_to_array($messages, false);
    }

    /** Visible plus in-flight messages on a queue. */
    public function depth(string $queueUrl): int
    {
        $attributes = $this->sqs->getQueueAttributes(['QueueUrl' => $queueUrl, 'AttributeNames' => ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible']])->getAttributes();
        return (int) $attributes['ApproximateNumberOfMessages'] + (int) $attributes['ApproximateNumberOfMessagesNotVisible'];
    }

    public function stop(): void
    {
        foreach ($this->processes as $process) {
            $process->kill();
        }
        $this->processes = [];
    }

    public static function freePort(): int
    {
        $server = stream_socket_server('tcp://127.0.0.1:0');
        $name = stream_socket_get_name($server, false);
        fclose($server);
        return (int) substr($name, strrpos($name, ':') + 1);
    }

    /** Runs a command to its end (hang guard: 120 s); fails the test on a non-zero exit. */
    public static function run(array $command, ?array $env = null, ?string $cwd = null): string
    {
        $log = tempnam(sys_get_temp_dir(), 'php-kit-');
        $process = Process::start($command, $env, $log, $cwd);
        $code = $process->wait(120);
        $out = (string) file_get_contents($log);
        unlink($log);
        if ($code !== 0) {
            Assert::fail(basename($command[0]) . " exited $code: $out");
        }
        return $out;
    }
}
