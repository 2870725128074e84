"""``manage.py push_vapid_keys``: print a new VAPID key pair for Web Push (RFC 8292)."""

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Print a new VAPID key pair as .env lines: PUSH_VAPID_PRIVATE_KEY (base64url raw 32-byte P-256 "
        "private key) and PUSH_VAPID_PUBLIC_KEY (base64url 65-byte uncompressed point: the "
        "applicationServerKey browsers pass to pushManager.subscribe)."
    )

    def handle(self, *args, **options):
        from cryptography.hazmat.primitives import serialization
        from py_vapid import Vapid
        from py_vapid.utils import b64urlencode

        vapid = Vapid()
        vapid.generate_keys()
        private_raw = vapid.private_key.private_numbers().private_value.to_bytes(32, "big")
        public_raw = vapid.public_key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        self.stdout.write(f"PUSH_VAPID_PRIVATE_KEY={b64urlencode(private_raw)}")
        self.stdout.write(f"PUSH_VAPID_PUBLIC_KEY={b64urlencode(public_raw)}")
