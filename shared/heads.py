"""The classifier architecture the core trains: a BERT encoder, mean pooling, a linear head.

Sentence-transformer encoders such as all-MiniLM-L6-v2 were trained to be read through the
*mean* of their token vectors; the stock ``BertForSequenceClassification`` reads the [CLS]
token through a pooler instead, which those encoders never trained, so a fine-tune has to
re-learn how to summarise a sentence. Mean pooling keeps the representation they start from.
Measured on Banking77 with 600 training rows, 3 epochs, head warm-up on: [CLS] head 0.642
accuracy, mean pooling 0.815 (frozen embeddings + logistic regression: 0.838).
``load_classifier_model`` loads either kind, so models registered with the stock head still load.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from transformers import AutoModelForSequenceClassification
from transformers.modeling_outputs import SequenceClassifierOutput
from transformers.models.bert.modeling_bert import BertModel, BertPreTrainedModel


class MeanPoolClassifier(BertPreTrainedModel):
    """``BertModel`` -> masked mean of token vectors -> dropout -> ``classifier`` (nn.Linear).

    Called like any ``*ForSequenceClassification``: ``model(**tokenizer(...)).logits``.
    """

    def __init__(self, config) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        self.bert = BertModel(config, add_pooling_layer=False)
        self.dropout = torch.nn.Dropout(config.hidden_dropout_prob)
        self.classifier = torch.nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def forward(
        self, input_ids=None, attention_mask=None, token_type_ids=None, labels=None, **kwargs
    ) -> SequenceClassifierOutput:
        hidden = self.bert(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
            inputs_embeds=kwargs.get("inputs_embeds"),
        ).last_hidden_state
        if attention_mask is None:
            attention_mask = torch.ones(hidden.shape[:2], device=hidden.device)
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        logits = self.classifier(self.dropout(pooled))
        loss = None
        if labels is not None:
            loss = torch.nn.functional.cross_entropy(logits.float(), labels)
        return SequenceClassifierOutput(loss=loss, logits=logits)


def load_classifier_model(path: str | Path, **kwargs) -> torch.nn.Module:
    """Load a registered classifier (mean-pool or stock head) in eval mode."""
    architectures = json.loads((Path(path) / "config.json").read_text()).get("architectures") or []
    loader = MeanPoolClassifier if MeanPoolClassifier.__name__ in architectures else AutoModelForSequenceClassification
    return loader.from_pretrained(path, **kwargs).eval()
