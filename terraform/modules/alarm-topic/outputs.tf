output "topic_arn" {
  description = "Alarm topic ARN."
  value       = aws_sns_topic.alarms.arn
}

output "slack_channel_configuration_arn" {
  description = "The AWS Chatbot Slack channel configuration, when the Slack ids are set."
  value       = one(aws_chatbot_slack_channel_configuration.alarms[*].chat_configuration_arn)
}

output "destinations" {
  description = "Where the alarms go (e-mail addresses, HTTPS endpoints by number, Slack channel); empty: nowhere."
  value       = local.destinations
}
