<?php

declare(strict_types=1);

namespace WebhookIngress\Worker;

/** JSON lines on stderr (one object per line: time, level, message, fields). Never given a body. */
final class Logger
{
    /** @param resource $stream */
    public function __construct(private $stream = STDERR)
    {
    }

    /** @param array<string, mixed> $fields */
    public function info(string $message, array $fields = []): void
    {
        $this->write('info', $message, $fields);
    }

    /** @param array<string, mixed> $fields */
    public function warn(string $message, array $fields = []): void
    {
        $this->write('warn', $message, $fields);
    }

    /** @param array<string, mixed> $fields */
    public function error(string $message, array $fields = []): void
    {
        $this->write('error', $message, $fields);
    }

    /** @param array<string, mixed> $fields */
    private function write(string $level, string $message, array $fields): void
    {
        $line = ['time' => (new \DateTimeImmutable('now', new \DateTimeZone('UTC')))->format('Y-m-d\TH:i:s.v\Z'), 'level' => $level, 'message' => $message] + $fields;
        fwrite($this->stream, json_encode($line, JSON_UNESCAPED_SLASHES | JSON_INVALID_UTF8_SUBSTITUTE) . "\n");
    }
}
