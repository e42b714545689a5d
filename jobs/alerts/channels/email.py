"""Email through Django's mail backend, to the comma-separated addresses of the rule."""

from __future__ import annotations

import smtplib
from datetime import datetime

from django.core.mail import send_mail

from jobs.alerts.channels.base import Channel, DeliveryFailed
from jobs.alerts.messages import Message
from jobs.models import AlertRule


class Email(Channel):
    def send(self, rule: AlertRule, message: Message, *, now: datetime) -> int | None:
        recipients = [address.strip() for address in rule.target.split(",") if address.strip()]
        try:
            send_mail(message.title, message.text, None, recipients, fail_silently=False)
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryFailed(
                f"the mail server refused the recipients: {exc}", permanent=True
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryFailed(f"sending mail failed: {type(exc).__name__}: {exc}") from None
        return None
