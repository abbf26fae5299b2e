"""Finance monitor: scheduled scraping -> topic & sentiment -> per-topic trends -> surge alerts."""
