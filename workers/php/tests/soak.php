<?php

declare(strict_types=1);

// `make soak-worker`: events through the real ingress behind `make soak`'s fault mix (the e2e fault
// proxy: SendMessage, DynamoDB and S3 calls failing, timing out or hanging), the sweeper behind its own
// faulty proxy, into PHP workers SIGKILLed at random and restarted. Ends with every accepted event's
// effect applied exactly once in the store, printed as `effects N of N, doubled 0, missing 0`.
//
//   php workers/php/tests/soak.php [--events 2000] [--workers 2] [--providers 8] [--seed N]
//
// Needs MOTO_ENDPOINT's moto, .venv (make venv) and target/debug (make build). Exit 0 when nothing is
// doubled or missing, 1 otherwise, 2 when the run itself failed.

use WebhookIngress\Worker\Tests\Integration\Process;
use WebhookIngress\Worker\Tests\Integration\Stack;

require 'PHPUnit/Autoload.php';
require __DIR__ . '/bootstrap.php';

$options = ['events' => 2000, 'workers' => 2, 'providers' => 8, 'seed' => random_int(1, PHP_INT_MAX >> 1)];
$args = array_slice($argv, 1);

if (($args[0] ?? '') === '--provider') {
    exit(provider(...array_slice($args, 1)));
}
while ($args !== []) {
    $flag = array_shift($args);
    $name = substr($flag, 2);
    if (!isset($options[$name]) || !preg_match('/^\d+$/', $value = (string) array_shift($args)) || (int) $value < 1) {
        fwrite(STDERR, "usage: soak.php [--events N] [--workers N] [--providers N] [--seed N]\n");
        exit(2);
    }
    $options[$name] = (int) $value;
}

/** A provider slice: sends events i, i+P, i+2P... with retries like a real provider; writes "id sha256" per 2xx. */
function provider(string $url, string $keyB64, string $slice, string $of, string $events, string $seed, string $out): int
{
    mt_srand((int) $seed + (int) $slice);
    $key = base64_decode($keyB64);
    $accepted = fopen($out, 'w');
    $retries = 0;
    for ($n = (int) $slice; $n < (int) $events; $n += (int) $of) {
        $id = "soak-$seed-$n";
        $body = $n % 15 === 7
            ? random_bytes(mt_rand(1, 2048))                                        // binary: base64 on the queue
            : json_encode(['type' => 'soak.event', 'n' => $n, 'text' => "héllo $n", 'pad' => str_repeat('x', mt_rand(0, 4000))], JSON_UNESCAPED_UNICODE);
        $sends = $n % 50 === 3 ? 2 : 1;                                             // 2% sent twice on purpose
        for ($send = 0; $send < $sends; $send++) {
            for ($attempt = 1, $delay = 100_000; $attempt <= 8; $attempt++, $delay = min(2_000_000, $delay * 2)) {
                $status = Stack::postSigned($url, $key, $id, $body, 5);
                if ($status >= 200 && $status < 300) {
                    fwrite($accepted, "$id " . hash('sha256', $body) . "\n");
                    break;
                }
                if ($status >= 400 && $status < 500) {
                    fwrite(STDERR, "$id: final $status\n");
                    break;
                }
                $retries++;
                usleep(mt_rand($delay / 2, $delay));
            }
        }
    }
    fwrite($accepted, "done $retries\n");
    fclose($accepted);
    return 0;
}

function say(string $line): void
{
    fwrite(STDERR, date('H:i:s') . " $line\n");
}

$seed = $options['seed'];
$dir = sys_get_temp_dir() . "/php-worker-soak-$seed";
@mkdir($dir);
$root = dirname(__DIR__, 3);
$kit = dirname(__DIR__);
$children = [];
try {
    $stack = new Stack($dir);
    $moto = parse_url($stack->endpoint);
    $proxy = function (string $faults, int $seed) use ($stack, $moto, $dir, &$children): string {
        $log = "$dir/proxy-$faults.log";
        $children[] = $process = Process::start([$stack->binary('latency_proxy'), '--upstream', "{$moto['host']}:{$moto['port']}", '--faults', $faults, '--seed', (string) $seed], null, $log);
        $deadline = microtime(true) + 20;
        while (!preg_match('#listening (http://\S+)#', $process->output(), $match)) {
            if (microtime(true) > $deadline || !$process->running()) {
                throw new RuntimeException("the $faults fault proxy did not start: " . $process->output());
            }
            usleep(50_000);
        }
        return $match[1];
    };
    $ingressProxy = $proxy('ingress', $seed);
    $sweeperProxy = $proxy('sweeper', $seed + 1);
    $url = $stack->ingress(['AWS_ENDPOINT_URL' => $ingressProxy, 'RESPONSE_BUDGET_MS' => '3000', 'PENDING_SHARDS' => '4']);
    $store = "$dir/store.db";
    $pdo = new PDO("sqlite:$store");
    $pdo->exec('PRAGMA journal_mode = WAL');
    $pdo->exec('CREATE TABLE IF NOT EXISTS soak_effects (event_id TEXT NOT NULL, body_sha256 TEXT NOT NULL)');

    $workerEnv = ['WORKER_VISIBILITY_TIMEOUT' => '3', 'WORKER_BACKOFF_SECONDS' => '1', 'WORKER_BACKOFF_MAX_SECONDS' => '5'];
    $startWorker = function (int $slot) use ($stack, $store, $kit, $workerEnv, $dir): Process {
        $env = $workerEnv + [
            'QUEUE_URL' => $stack->queueUrl, 'WORKER_STORE_DSN' => "sqlite:$store", 'AWS_ENDPOINT_URL' => $stack->endpoint,
            'AWS_REGION' => Stack::REGION, 'AWS_ACCESS_KEY_ID' => 'test', 'AWS_SECRET_ACCESS_KEY' => 'test', 'WORKER_WAIT_SECONDS' => '1',
        ];
        return Process::start([PHP_BINARY, "$kit/bin/worker.php", '--handler', __DIR__ . '/soak_handler.php'], $env, "$dir/worker-$slot.log");
    };
    $workers = [];
    for ($slot = 0; $slot < $options['workers']; $slot++) {
        $workers[$slot] = $startWorker($slot);
    }
    $providers = [];
    for ($i = 0; $i < $options['providers']; $i++) {
        $providers[] = Process::start([PHP_BINARY, __FILE__, '--provider', $url, base64_encode($stack->signingKey()), (string) $i,
            (string) $options['providers'], (string) $options['events'], (string) $seed, "$dir/accepted-$i"], null, "$dir/provider-$i.log");
    }
    say("seed $seed: {$options['events']} events, {$options['providers']} providers, {$options['workers']} workers killed at random; logs in $dir");

    $sweeperEnv = $stack->env(['AWS_ENDPOINT_URL' => $sweeperProxy, 'GRACE_SECS' => '2', 'MAX_ATTEMPTS' => '10', 'PENDING_SHARDS' => '4']);
    $sweeper = null;
    $sweeps = 0;
    $kills = 0;
    $nextKill = microtime(true) + mt_rand(300, 2000) / 1000;
    $nextSweep = microtime(true) + 3;
    $sendDone = false;
    $lastSay = microtime(true);
    $guard = microtime(true) + 1800;
    while (true) {
        if (microtime(true) > $guard) {
            throw new RuntimeException('hang guard: the run did not finish in 30 minutes');
        }
        $sendDone = $sendDone || !array_filter($providers, fn (Process $p) => $p->running());
        // The killer, while events are still coming.
        if (!$sendDone && microtime(true) >= $nextKill) {
            $slot = array_rand($workers);
            $workers[$slot]->kill();
            $kills++;
            $workers[$slot] = $startWorker($slot);
            $nextKill = microtime(true) + mt_rand(300, 2000) / 1000;
        }
        foreach ($workers as $slot => $worker) {
            if (!$worker->running()) {
                throw new RuntimeException("worker $slot exited by itself: " . substr($worker->output(), -2000));
            }
        }
        // The sweeper every 3 s through its faulty proxy.
        if (($sweeper === null || !$sweeper->running()) && microtime(true) >= $nextSweep) {
            $sweeper = Process::start([$stack->binary('sweeper')], $sweeperEnv, "$dir/sweeper.log");
            $sweeps++;
            $nextSweep = microtime(true) + 3;
        }
        if ($sendDone) {
            break;
        }
        if (microtime(true) - $lastSay > 10) {
            $lastSay = microtime(true);
            say(sprintf('sending: %d effects so far, %d worker kills, %d sweeps', $pdo->query('SELECT COUNT(*) FROM soak_effects')->fetchColumn(), $kills, $sweeps));
        }
        usleep(50_000);
    }
    $accepted = [];
    $providerRetries = 0;
    foreach (glob("$dir/accepted-*") as $file) {
        foreach (file($file, FILE_IGNORE_NEW_LINES) as $line) {
            [$a, $b] = explode(' ', $line, 2);
            if ($a === 'done') {
                $providerRetries += (int) $b;
            } else {
                $accepted[$a] = $b;
            }
        }
    }
    say(sprintf('send phase over: %d events accepted, %d provider retries; sweeping without faults until nothing is pending', count($accepted), $providerRetries));
    $sweeper?->wait(300);
    // Sweep straight to moto (no faults) a few times: every pending row goes out.
    for ($i = 0; $i < 3; $i++) {
        Process::start([$stack->binary('sweeper')], $stack->env(['GRACE_SECS' => '0', 'PENDING_SHARDS' => '4']), "$dir/sweeper.log")->wait(300);
    }
    // Drain: until the queue is empty twice in a row.
    $empty = 0;
    $drainGuard = microtime(true) + 600;
    while ($empty < 2) {
        if (microtime(true) > $drainGuard) {
            throw new RuntimeException('hang guard: the queue did not drain in 10 minutes');
        }
        $empty = $stack->depth($stack->queueUrl) === 0 ? $empty + 1 : 0;
        sleep(1);
    }
    foreach ($workers as $worker) {
        $worker->signal(SIGTERM);
    }
    foreach ($workers as $slot => $worker) {
        if (($code = $worker->wait(60)) !== 0) {
            throw new RuntimeException("worker $slot exited $code on SIGTERM");
        }
    }

    $counts = [];
    $corrupt = 0;
    foreach ($pdo->query('SELECT event_id, body_sha256 FROM soak_effects') as [$id, $sha]) {
        $counts[$id] = ($counts[$id] ?? 0) + 1;
        if (isset($accepted[$id]) && $accepted[$id] !== $sha) {
            $corrupt++;
        }
    }
    $applied = count(array_intersect_key($counts, $accepted));
    $doubled = count(array_filter($counts, fn (int $n) => $n > 1));
    $missing = count(array_diff_key($accepted, $counts));
    $duplicates = 0;
    foreach (glob("$dir/worker-*.log") as $log) {
        $duplicates += substr_count((string) file_get_contents($log), '"message":"duplicate"');
    }
    $deferred = substr_count((string) file_get_contents(glob("$dir/ingress-*.log")[0]), 'the row stays pending for the sweeper');
    printf("seed %d: %d worker kills, %d sweeps, %d sends the ingress left to the sweeper, %d provider retries, %d duplicate deliveries dropped by the store\n",
        $seed, $kills, $sweeps, $deferred, $providerRetries, $duplicates);
    if ($corrupt > 0) {
        printf("corrupt %d (an effect saw other bytes than the provider sent)\n", $corrupt);
    }
    printf("effects %d of %d, doubled %d, missing %d\n", $applied, count($accepted), $doubled, $missing);
    $ok = $doubled === 0 && $missing === 0 && $corrupt === 0 && $applied === count($accepted);
    if ($ok && getenv('SOAK_KEEP') === false) {
        array_map('unlink', glob("$dir/*") ?: []);
        @rmdir($dir);
    } else {
        say("kept the logs and the store in $dir");
    }
    $status = $ok ? 0 : 1;
} catch (Throwable $e) {
    say('soak: ' . $e->getMessage() . " (logs in $dir)");
    $status = 2;
} finally {
    foreach (array_merge($children, $workers ?? [], $providers ?? []) as $process) {
        $process->kill();
    }
    if (isset($stack)) {
        $stack->stop();
    }
}
exit($status);
