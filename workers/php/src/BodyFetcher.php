<?php

declare(strict_types=1);

namespace WebhookIngress\Worker;

/** Reads a claim-check body. Implementations must never delete the object: one object serves every message of its event. */
interface BodyFetcher
{
    /** @throws BodyFetchError */
    public function fetch(string $bucket, string $key): string;
}
