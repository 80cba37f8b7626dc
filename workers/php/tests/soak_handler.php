<?php

declare(strict_types=1);

// The soak's handler: one row per call in soak_effects, inside the worker's transaction (no unique
// constraint, so a doubled effect shows as two rows). Sometimes slow, to widen the window a kill hits.

use WebhookIngress\Worker\Event;

return function (Event $event, \PDO $tx): void {
    $tx->prepare('INSERT INTO soak_effects (event_id, body_sha256) VALUES (?, ?)')->execute([$event->id, hash('sha256', $event->body)]);
    if (random_int(0, 3) === 0) {
        usleep(random_int(1_000, 80_000));
    }
};
