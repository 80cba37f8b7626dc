# The deployment's one dashboard: the architecture and links first, then a band per webhook source
# (modules/monitoring output dashboard_band), each band in the order data flows, sources in map order.
data "aws_region" "current" {}

locals {
  region  = data.aws_region.current.region
  console = "https://${local.region}.console.aws.amazon.com"

  links = join("", [for title, url in var.links : " · [${title}](${url})"])

  header = <<-EOT
    # Webhook ingress `${var.name}`: ${length(var.bands)} source(s), one band each below
    ```
    provider --POST--> Function URL --> ingress Lambda --PutItem (pending)--> DynamoDB ${var.table_name} (shared)
                                             |--SendMessage--> SQS queue of the source --> PHP workers
                                             |--UpdateItem (sent)                  | maxReceiveCount
    EventBridge Scheduler (1 min) --> sweeper Lambda --re-sends pending-->         v
                                                                        SQS DLQ of the source --> alarm
    ```
    [Outbox table](${local.console}/dynamodbv2/home?region=${local.region}#table?name=${var.table_name})
    · [Alarms](${local.console}/cloudwatch/home?region=${local.region}#alarmsV2:?search=${var.name})${local.links}
  EOT

  header_height = 7
  heights       = [for band in var.bands : band.height]
  # Each band's first row: below the header and the bands before it.
  band_y = [for i in range(length(var.bands)) : local.header_height + sum(concat([0], slice(local.heights, 0, i)))]

  widgets = concat(
    [{ type = "text", x = 0, y = 0, width = 24, height = local.header_height, properties = { markdown = local.header } }],
    flatten([for i, band in var.bands : [for w in band.widgets : merge(w, { y = w.y + local.band_y[i] })]]),
  )
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = var.name
  dashboard_body = jsonencode({ widgets = local.widgets })
}
