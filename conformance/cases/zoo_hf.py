"""Zoo tier: Hugging Face transformers architectures from small configs, random weights.

Nothing is downloaded: each model is built from a config (hidden 32, 2 layers, 2 heads, seq 16,
images 32-64 px) after ``torch.manual_seed``, with the task head users deploy where the
architecture has one, and called the way Hugging Face users call it: keyword tensors
(``input_ids``, ``attention_mask``, ``pixel_values``, ``decoder_input_ids``,
``input_features``, ``input_values``) in, a ``ModelOutput`` out. Decoders are built with
``use_cache=False`` so no cache objects are returned.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from conformance.cases import Case

BATCH = 8
SEQ = 16
VOCAB = 100
IMAGE = 32

# the shared small transformer shape, in each config's own spelling
_BERTISH = {
    "vocab_size": VOCAB,
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 64,
    "max_position_embeddings": 64,
}
_DECODER = {
    "vocab_size": VOCAB,
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 64,
    "max_position_embeddings": 64,
    "use_cache": False,
}


def _seeded(seed: int) -> Any:
    import torch

    torch.manual_seed(seed)
    return torch


def _randomize_norms(model: Any) -> Any:
    """Non-trivial BatchNorm statistics and affine terms (fresh ones are the identity in eval,
    which would hide a converter that drops or mis-orders them)."""
    import torch

    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
                if module.affine:
                    module.weight.uniform_(0.5, 1.5)
                    module.bias.uniform_(-0.3, 0.3)
    return model.eval()


def _text_inputs(torch: Any, mask: bool = True, low: int = 3) -> dict[str, Any]:
    """input_ids above the special tokens (pad, bos, eos < 3), and an all-ones mask."""
    ids = torch.randint(low, VOCAB, (BATCH, SEQ), generator=torch.Generator().manual_seed(7))
    feed = {"input_ids": ids}
    if mask:
        feed["attention_mask"] = torch.ones(BATCH, SEQ, dtype=torch.long)
    return feed


def _pixels(torch: Any, size: int = IMAGE) -> dict[str, Any]:
    gen = torch.Generator().manual_seed(11)
    return {"pixel_values": torch.randn(BATCH, 3, size, size, generator=gen)}


def _build_text(cls_name: str, config_name: str, seed: int, mask: bool,
                config: dict[str, Any]) -> tuple[Any, Any]:
    import transformers

    torch = _seeded(seed)
    cfg = getattr(transformers, config_name)(**config)
    model = getattr(transformers, cls_name)(cfg).eval()
    return model, _text_inputs(torch, mask)


def _build_vision(cls_name: str, config_name: str, seed: int, size: int,
                  config: dict[str, Any]) -> tuple[Any, Any]:
    import transformers

    torch = _seeded(seed)
    cfg = getattr(transformers, config_name)(**config)
    model = _randomize_norms(getattr(transformers, cls_name)(cfg))
    return model, _pixels(torch, size)


# A case's build() crosses into the suite's case subprocess by pickle: module-level
# functions bound with functools.partial travel, closures do not.
def _text_case(cls_name: str, config_name: str, seed: int, mask: bool = True,
               **config: Any) -> Callable[[], tuple[Any, Any]]:
    return functools.partial(_build_text, cls_name, config_name, seed, mask, config)


def _vision_case(cls_name: str, config_name: str, seed: int, size: int = IMAGE,
                 **config: Any) -> Callable[[], tuple[Any, Any]]:
    return functools.partial(_build_vision, cls_name, config_name, seed, size, config)


# -- encoder-decoder ------------------------------------------------------------------------
_T5 = {"vocab_size": VOCAB, "d_model": 32, "d_kv": 16, "d_ff": 64, "num_layers": 2,
       "num_decoder_layers": 2, "num_heads": 2, "decoder_start_token_id": 0, "use_cache": False}
_BART = {"vocab_size": VOCAB, "d_model": 32, "encoder_layers": 2, "decoder_layers": 2,
         "encoder_attention_heads": 2, "decoder_attention_heads": 2, "encoder_ffn_dim": 64,
         "decoder_ffn_dim": 64, "max_position_embeddings": 64, "use_cache": False}


def build_t5_encoder() -> tuple[Any, Any]:
    from transformers import T5Config, T5EncoderModel

    torch = _seeded(40)
    return T5EncoderModel(T5Config(**_T5)).eval(), _text_inputs(torch)


def _seq2seq_inputs(torch: Any) -> dict[str, Any]:
    """Encoder text inputs plus ``decoder_input_ids`` of half the length (its own seed)."""
    feed = _text_inputs(torch)
    gen = torch.Generator().manual_seed(8)
    feed["decoder_input_ids"] = torch.randint(3, VOCAB, (BATCH, SEQ // 2), generator=gen)
    return feed


def build_t5_full() -> tuple[Any, Any]:
    from transformers import T5Config, T5ForConditionalGeneration

    feed = _seq2seq_inputs(_seeded(41))  # seeds torch, then draws the inputs, as before
    return T5ForConditionalGeneration(T5Config(**_T5)).eval(), feed


def build_bart_encoder() -> tuple[Any, Any]:
    from transformers import BartConfig, BartModel

    torch = _seeded(42)
    encoder = BartModel(BartConfig(**_BART)).get_encoder().eval()
    return encoder, _text_inputs(torch)


def build_bart_full() -> tuple[Any, Any]:
    from transformers import BartConfig, BartForConditionalGeneration

    feed = _seq2seq_inputs(_seeded(43))
    return BartForConditionalGeneration(BartConfig(**_BART)).eval(), feed


# -- audio ----------------------------------------------------------------------------------
_W2V = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
        "intermediate_size": 64, "conv_dim": (16, 16), "conv_stride": (5, 2),
        "conv_kernel": (10, 3), "num_conv_pos_embeddings": 16,
        "num_conv_pos_embedding_groups": 2, "vocab_size": 32}
SAMPLES = 400  # 400 samples -> 39 frames through strides 5 and 2


def _waveform(torch: Any) -> dict[str, Any]:
    gen = torch.Generator().manual_seed(13)
    return {"input_values": torch.randn(BATCH, SAMPLES, generator=gen)}


def build_wav2vec2_ctc() -> tuple[Any, Any]:
    from transformers import Wav2Vec2Config, Wav2Vec2ForCTC

    torch = _seeded(60)
    return _randomize_norms(Wav2Vec2ForCTC(Wav2Vec2Config(**_W2V))), _waveform(torch)


def build_hubert() -> tuple[Any, Any]:
    from transformers import HubertConfig, HubertForSequenceClassification

    torch = _seeded(61)
    model = HubertForSequenceClassification(HubertConfig(**_W2V, num_labels=3))
    return _randomize_norms(model), _waveform(torch)


def build_whisper_encoder() -> tuple[Any, Any]:
    from transformers import WhisperConfig, WhisperModel

    torch = _seeded(62)
    cfg = WhisperConfig(vocab_size=VOCAB, d_model=32, encoder_layers=2, decoder_layers=2,
                        encoder_attention_heads=2, decoder_attention_heads=2,
                        encoder_ffn_dim=64, decoder_ffn_dim=64, num_mel_bins=16,
                        max_source_positions=16, max_target_positions=32, pad_token_id=1,
                        bos_token_id=0, eos_token_id=2, decoder_start_token_id=0,
                        use_cache=False)
    encoder = WhisperModel(cfg).get_encoder().eval()
    gen = torch.Generator().manual_seed(14)
    # the encoder takes exactly 2 * max_source_positions frames
    return encoder, {"input_features": torch.randn(BATCH, 16, 32, generator=gen)}


# -- CLIP -----------------------------------------------------------------------------------
def build_clip_text() -> tuple[Any, Any]:
    from transformers import CLIPTextConfig, CLIPTextModel

    torch = _seeded(70)
    cfg = CLIPTextConfig(vocab_size=VOCAB, hidden_size=32, intermediate_size=64,
                         num_hidden_layers=2, num_attention_heads=2,
                         max_position_embeddings=32, bos_token_id=0, eos_token_id=2,
                         pad_token_id=1)
    return CLIPTextModel(cfg).eval(), _text_inputs(torch)


def build_clip_vision() -> tuple[Any, Any]:
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    torch = _seeded(71)
    cfg = CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                           num_attention_heads=2, image_size=IMAGE, patch_size=8,
                           projection_dim=16)
    return CLIPVisionModelWithProjection(cfg).eval(), _pixels(torch)


def _hf(name: str, build: Callable[[], tuple[Any, Any]], *tags: str, notes: str = "") -> Case:
    return Case(name, "torch", build, tags=("hf", *tags), notes=notes)


_VIT = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
        "intermediate_size": 64, "image_size": IMAGE, "patch_size": 8, "num_labels": 10}

CASES: list[Case] = [
    # encoders
    _hf("hf_bert", _text_case("BertModel", "BertConfig", 1, **_BERTISH),
        "encoder", "multi-output", notes="BertModel: last_hidden_state and pooler_output"),
    _hf("hf_bert_classifier",
        _text_case("BertForSequenceClassification", "BertConfig", 2, num_labels=3, **_BERTISH),
        "encoder"),
    _hf("hf_roberta", _text_case("RobertaForMaskedLM", "RobertaConfig", 3, **_BERTISH),
        "encoder"),
    _hf("hf_distilbert",
        _text_case("DistilBertForQuestionAnswering", "DistilBertConfig", 4, vocab_size=VOCAB,
                   dim=32, n_layers=2, n_heads=2, hidden_dim=64, max_position_embeddings=64),
        "encoder", "multi-output", notes="start_logits and end_logits"),
    _hf("hf_albert",
        _text_case("AlbertForSequenceClassification", "AlbertConfig", 5, embedding_size=16,
                   num_labels=3, **_BERTISH),
        "encoder"),
    _hf("hf_deberta_v2",
        _text_case("DebertaV2ForSequenceClassification", "DebertaV2Config", 6, num_labels=3,
                   **_BERTISH),
        "encoder"),
    _hf("hf_electra",
        _text_case("ElectraForTokenClassification", "ElectraConfig", 7, embedding_size=16,
                   num_labels=5, **_BERTISH),
        "encoder"),
    _hf("hf_mpnet", _text_case("MPNetForMaskedLM", "MPNetConfig", 8, **_BERTISH), "encoder"),
    _hf("hf_xlm_roberta",
        _text_case("XLMRobertaForSequenceClassification", "XLMRobertaConfig", 9, num_labels=3,
                   **_BERTISH),
        "encoder"),
    # decoders (use_cache=False: logits only)
    _hf("hf_gpt2",
        _text_case("GPT2LMHeadModel", "GPT2Config", 20, vocab_size=VOCAB, n_embd=32, n_layer=2,
                   n_head=2, n_positions=64, bos_token_id=0, eos_token_id=2, use_cache=False),
        "decoder"),
    _hf("hf_llama", _text_case("LlamaForCausalLM", "LlamaConfig", 21, **_DECODER), "decoder"),
    _hf("hf_mistral",
        _text_case("MistralForCausalLM", "MistralConfig", 22, num_key_value_heads=1,
                   **_DECODER),
        "decoder"),
    _hf("hf_qwen2",
        _text_case("Qwen2ForCausalLM", "Qwen2Config", 23, num_key_value_heads=1, **_DECODER),
        "decoder"),
    _hf("hf_phi", _text_case("PhiForCausalLM", "PhiConfig", 24, **_DECODER), "decoder"),
    _hf("hf_gemma",
        _text_case("GemmaForCausalLM", "GemmaConfig", 25, head_dim=16, num_key_value_heads=1,
                   **_DECODER),
        "decoder"),
    _hf("hf_opt",
        _text_case("OPTForCausalLM", "OPTConfig", 26, vocab_size=VOCAB, hidden_size=32,
                   num_hidden_layers=2, num_attention_heads=2, ffn_dim=64,
                   word_embed_proj_dim=32, max_position_embeddings=64, use_cache=False),
        "decoder"),
    _hf("hf_gpt_neox",
        _text_case("GPTNeoXForCausalLM", "GPTNeoXConfig", 27, **_DECODER), "decoder"),
    # encoder-decoder
    _hf("hf_t5_encoder", build_t5_encoder, "enc-dec", "encoder"),
    _hf("hf_t5", build_t5_full, "enc-dec", "multi-output",
        notes="T5ForConditionalGeneration with decoder_input_ids"),
    _hf("hf_bart_encoder", build_bart_encoder, "enc-dec", "encoder"),
    _hf("hf_bart", build_bart_full, "enc-dec", "multi-output",
        notes="BartForConditionalGeneration with decoder_input_ids"),
    # vision
    _hf("hf_vit", _vision_case("ViTForImageClassification", "ViTConfig", 30, **_VIT), "vision"),
    _hf("hf_deit",
        _vision_case("DeiTForImageClassificationWithTeacher", "DeiTConfig", 31, **_VIT),
        "vision", "multi-output"),
    _hf("hf_swin",
        _vision_case("SwinForImageClassification", "SwinConfig", 32, image_size=IMAGE,
                     patch_size=4, embed_dim=16, depths=[1, 1], num_heads=[1, 2],
                     window_size=4, num_labels=10),
        "vision"),
    _hf("hf_convnext",
        _vision_case("ConvNextForImageClassification", "ConvNextConfig", 33, num_stages=2,
                     hidden_sizes=[16, 32], depths=[1, 1], num_labels=10),
        "vision", "cnn"),
    _hf("hf_resnet",
        _vision_case("ResNetForImageClassification", "ResNetConfig", 34, embedding_size=16,
                     hidden_sizes=[16, 32], depths=[1, 1], layer_type="basic", num_labels=10),
        "vision", "cnn", "batchnorm"),
    _hf("hf_mobilevit",
        _vision_case("MobileViTForImageClassification", "MobileViTConfig", 35, size=64,
                     image_size=64, hidden_sizes=[16, 24, 32],
                     neck_hidden_sizes=[8, 8, 16, 16, 24, 32, 64], num_attention_heads=2,
                     expand_ratio=2.0,
                     num_labels=10),
        "vision", "cnn", "batchnorm"),
    _hf("hf_efficientnet",
        _vision_case("EfficientNetForImageClassification", "EfficientNetConfig", 36,
                     image_size=IMAGE, width_coefficient=0.25, depth_coefficient=0.25,
                     hidden_dim=320, num_labels=10),
        "vision", "cnn", "batchnorm"),
    _hf("hf_regnet",
        _vision_case("RegNetForImageClassification", "RegNetConfig", 37, embedding_size=16,
                     hidden_sizes=[16, 32], depths=[1, 1], groups_width=8, num_labels=10),
        "vision", "cnn", "batchnorm"),
    _hf("hf_dinov2",
        _vision_case("Dinov2Model", "Dinov2Config", 38, hidden_size=32, num_hidden_layers=2,
                     num_attention_heads=2, mlp_ratio=2, image_size=IMAGE, patch_size=8),
        "vision", "multi-output"),
    # audio
    _hf("hf_wav2vec2", build_wav2vec2_ctc, "audio"),
    _hf("hf_hubert", build_hubert, "audio"),
    _hf("hf_whisper_encoder", build_whisper_encoder, "audio", "encoder"),
    # CLIP
    _hf("hf_clip_text", build_clip_text, "clip", "encoder", "multi-output"),
    _hf("hf_clip_vision", build_clip_vision, "clip", "vision", "multi-output"),
]

# One model per family for `make test`: encoder, decoder, enc-dec, vision, audio, CLIP.
SMOKE = ["hf_bert", "hf_llama", "hf_t5_encoder", "hf_vit", "hf_wav2vec2", "hf_clip_text"]
