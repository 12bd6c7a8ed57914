"""Message channels: email and SMS senders."""
