<?php

declare(strict_types=1);

// Loads the kit without Composer: its own classes (PSR-4, WebhookIngress\Worker\ => src/) and the
// AsyncAws SQS client from Debian's php-async-aws-sqs (under /usr/share/php, on the include path).
// Installed with Composer, vendor/autoload.php does all of this and this file is not needed.

spl_autoload_register(static function (string $class): void {
    $prefix = 'WebhookIngress\\Worker\\';
    if (strncmp($class, $prefix, strlen($prefix)) !== 0) {
        return;
    }
    $file = __DIR__ . '/' . str_replace('\\', '/', substr($class, strlen($prefix))) . '.php';
    if (is_file($file)) {
        require $file;
    }
});

if (!class_exists(\AsyncAws\Sqs\SqsClient::class)) {
    $debian = stream_resolve_include_path('AsyncAws/Sqs/autoload.php');
    if ($debian === false) {
        fwrite(STDERR, "cannot find the AsyncAws SQS client: install Debian's php-async-aws-sqs "
            . "(apt-get install php-async-aws-sqs) or the Composer package async-aws/sqs\n");
        exit(1);
    }
    require_once $debian;
}
