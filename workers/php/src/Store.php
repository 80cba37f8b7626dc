<?php

declare(strict_types=1);

namespace WebhookIngress\Worker;

/**
 * The processed-events table: one row per effect applied, written in the same transaction as the
 * handler's own changes, so that both commit or neither does.
 */
final class Store
{
    public const DEFAULT_TABLE = 'processed_events';

    public function __construct(public readonly \PDO $pdo, public readonly string $table = self::DEFAULT_TABLE)
    {
        if (!preg_match('/^[A-Za-z_][A-Za-z0-9_]{0,62}$/', $table)) {
            throw new \InvalidArgumentException(sprintf('invalid table name %s', json_encode($table)));
        }
        $pdo->setAttribute(\PDO::ATTR_ERRMODE, \PDO::ERRMODE_EXCEPTION);
    }

    /** Connects to a PDO DSN (`sqlite:/path`, `pgsql:host=...;dbname=...`, `mysql:host=...;dbname=...`). */
    public static function connect(string $dsn, ?string $user = null, ?string $password = null, string $table = self::DEFAULT_TABLE, int $sqliteBusySeconds = 30): self
    {
        $pdo = new \PDO($dsn, $user, $password, [\PDO::ATTR_ERRMODE => \PDO::ERRMODE_EXCEPTION]);
        if ($pdo->getAttribute(\PDO::ATTR_DRIVER_NAME) === 'sqlite') {
            // Several workers on one file: wait for the writer instead of failing at once.
            $pdo->setAttribute(\PDO::ATTR_TIMEOUT, $sqliteBusySeconds);
            $pdo->exec('PRAGMA journal_mode = WAL');
        }
        return new self($pdo, $table);
    }

    public function driver(): string
    {
        return (string) $this->pdo->getAttribute(\PDO::ATTR_DRIVER_NAME);
    }

    /**
     * The DDL of the processed-events table for a PDO driver.
     *
     * @return list<string>
     */
    public static function ddl(string $driver, string $table = self::DEFAULT_TABLE): array
    {
        return match ($driver) {
            'sqlite' => [
                "CREATE TABLE IF NOT EXISTS $table (
                    dedupe_key TEXT NOT NULL PRIMARY KEY,
                    event_id TEXT NOT NULL,
                    processed_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
                )",
                "CREATE INDEX IF NOT EXISTS {$table}_processed_at ON $table (processed_at)",
            ],
            'pgsql' => [
                "CREATE TABLE IF NOT EXISTS $table (
                    dedupe_key VARCHAR(400) NOT NULL PRIMARY KEY,
                    event_id VARCHAR(256) NOT NULL,
                    processed_at TIMESTAMPTZ NOT NULL DEFAULT now()
                )",
                "CREATE INDEX IF NOT EXISTS {$table}_processed_at ON $table (processed_at)",
            ],
            'mysql' => [
                "CREATE TABLE IF NOT EXISTS $table (
                    dedupe_key VARCHAR(400) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL PRIMARY KEY,
                    event_id VARCHAR(256) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
                    processed_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
                    INDEX {$table}_processed_at (processed_at)
                ) ENGINE=InnoDB",
            ],
            default => throw new \InvalidArgumentException(sprintf('no processed-events DDL for the PDO driver %s (sqlite, pgsql, mysql)', $driver)),
        };
    }

    /** Creates the table when it does not exist. */
    public function migrate(): void
    {
        foreach (self::ddl($this->driver(), $this->table) as $statement) {
            $this->pdo->exec($statement);
        }
    }

    /**
     * Inside an open transaction: records the key. False when it is already there (the effect was
     * applied by an earlier delivery); the caller then rolls back. A concurrent transaction holding
     * the same key makes this wait for it (pgsql, mysql) or for the file lock (sqlite).
     */
    public function claim(string $dedupeKey, string $eventId): bool
    {
        $statement = $this->pdo->prepare("INSERT INTO {$this->table} (dedupe_key, event_id) VALUES (?, ?)");
        try {
            $statement->execute([$dedupeKey, $eventId]);
        } catch (\PDOException $e) {
            if (self::isUniqueViolation($e)) {
                return false;
            }
            throw $e;
        }
        return true;
    }

    public function has(string $dedupeKey): bool
    {
        $statement = $this->pdo->prepare("SELECT 1 FROM {$this->table} WHERE dedupe_key = ?");
        $statement->execute([$dedupeKey]);
        return $statement->fetchColumn() !== false;
    }

    /** SQLSTATE 23xxx of a duplicate primary key: 23000 (sqlite, mysql), 23505 (pgsql). */
    public static function isUniqueViolation(\PDOException $e): bool
    {
        $state = $e->errorInfo[0] ?? (string) $e->getCode();
        return $state === '23000' || $state === '23505';
    }
}
