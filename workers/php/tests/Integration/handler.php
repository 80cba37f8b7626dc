<?php

declare(strict_types=1);

// The integration tests' handler: records every call in `effects`, inside the worker's transaction.
// By event type: `fail.always` throws; `fail.once` throws on its first try (a marker file outside the
// transaction remembers the try); `block.me` writes started-<id> and waits for the file `release`.

use WebhookIngress\Worker\Event;

return function (Event $event, \PDO $tx): void {
    $dir = getenv('TEST_HANDLER_DIR');
    $tx->exec('CREATE TABLE IF NOT EXISTS effects (seq INTEGER PRIMARY KEY AUTOINCREMENT, dedupe_key TEXT, event_id TEXT,
        type TEXT, delivered_by TEXT, conflict_of TEXT, body_sha256 TEXT, body_len INTEGER, attributes TEXT)');
    $tx->prepare('INSERT INTO effects (dedupe_key, event_id, type, delivered_by, conflict_of, body_sha256, body_len, attributes)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?)')->execute([$event->dedupeKey, $event->id, $event->type, $event->deliveredBy,
        $event->conflictOf, hash('sha256', $event->body), strlen($event->body), json_encode($event->attributes)]);
    $marker = "$dir/" . hash('sha256', $event->dedupeKey);
    switch ($event->type) {
        case 'fail.always':
            throw new \RuntimeException('this handler always fails');
        case 'fail.once':
        case 'order.flaky':
            if (!file_exists("$marker.failed")) {
                touch("$marker.failed");
                throw new \RuntimeException('this handler fails on its first try');
            }
            break;
        case 'block.me':
            touch("$marker.started");
            while (!file_exists("$dir/release")) {
                usleep(20_000);
            }
            break;
    }
};
