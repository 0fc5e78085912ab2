"""Schemathesis hooks for .ci/api-fuzz: file bodies (PDF, DOCX) are sent as raw bytes."""

import schemathesis

for media_type in (
    "application/pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
):
    schemathesis.serializer.alias(media_type, "application/octet-stream")
