"""DynamoDB stores: contacts and their history, commerce, lists, tasks, the lead router, content, connections."""
