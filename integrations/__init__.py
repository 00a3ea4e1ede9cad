"""Integrations: signed webhooks (Standard Webhooks) that tell other tools what happened in Atelier."""
