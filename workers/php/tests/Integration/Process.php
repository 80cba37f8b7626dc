<?php

declare(strict_types=1);

namespace WebhookIngress\Worker\Tests\Integration;

use PHPUnit\Framework\Assert;

/** A child process with its stdout and stderr in one log file. */
final class Process
{
    private ?int $exitCode = null;

    /** @param resource $handle */
    private function __construct(private $handle, public readonly string $log)
    {
    }

    public static function start(array $command, ?array $env, string $log, ?string $cwd = null): self
    {
        $handle = proc_open($command, [0 => ['file', '/dev/null', 'r'], 1 => ['file', $log, 'a'], 2 => ['file', $log, 'a']], $pipes, $cwd, $env);
        if ($handle === false) {
            Assert::fail('cannot start ' . implode(' ', $command));
        }
        return new self($handle, $log);
    }

    public function pid(): int
    {
        return proc_get_status($this->handle)['pid'];
    }

    public function running(): bool
    {
        if ($this->exitCode !== null) {
            return false;
        }
        $status = proc_get_status($this->handle);
        if (!$status['running']) {
            $this->exitCode = $status['signaled'] ? 128 + $status['termsig'] : $status['exitcode'];
            return false;
        }
        return true;
    }

    /** Waits for the exit; a hang guard, not a measure: fails the test after $guardSeconds. */
    public function wait(float $guardSeconds = 60): int
    {
        $deadline = microtime(true) + $guardSeconds;
        while ($this->running()) {
            if (microtime(true) > $deadline) {
                $this->kill();
                Assert::fail("hung for $guardSeconds s: " . $this->output());
            }
            usleep(20_000);
        }
        return (int) $this->exitCode;
    }

    public function signal(int $signal): void
    {
        if ($this->running()) {
            posix_kill($this->pid(), $signal);
        }
    }

    public function kill(): void
    {
        if ($this->running()) {
            posix_kill($this->pid(), SIGKILL);
            while ($this->running()) {
                usleep(10_000);
            }
        }
    }

    public function output(): string
    {
        return (string) @file_get_contents($this->log);
    }
}
