"""Support bot: chat over a knowledge base with intents, hybrid retrieval and hand-off."""
