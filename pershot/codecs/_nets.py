"""Networks of pershot's learned image codecs (imports torch and compressai: load lazily).

Three architectures, all *rate-conditioned*: one network serves every level
through per-level channel gains on the latent (Cui et al., "Asymmetric gained
deep image compression with continuous rate adaptation", CVPR 2021) and
per-level entropy bottlenecks, trained with a per-sample Lagrange multiplier.

* ``factorized``: Ballé et al. 2017 transforms (GDN), factorized prior.
* ``hyperprior``: mean-scale hyperprior (Minnen et al. 2018 without context
  model) with a light hyper network.
  It carries a second, small synthesis transform (``lite``): the asymmetric
  variant decodes the very same bitstream with a fraction of the decoder
  multiply-accumulates (full encoder, light decoder). The lite decoder is
  trained on the full model's quantised latents with the gradient stopped, so
  it never degrades the full model, and both share one weights file.

Determinism. The hyper-synthesis network that turns the decoded side
information into the Gaussian scales and means runs, at inference, in exact
integer arithmetic: weights and activations are fixed-point integers held in
float64 tensors, where every product and sum is an integer below 2**53 and
therefore exact whatever the summation order, thread count, BLAS or CPU.
The scale-to-CDF-index step compares those exact values with the scale table,
so encoder and decoder always pick the same CDFs (the failure of CompressAI
issues #279/#309 cannot happen). The CDF tables themselves are computed once,
when the weights are frozen, and shipped in the state dict.

The synthesis transform runs in float64 at decoding time. In float32, oneDNN's
convolutions round differently with 1 and 2 threads (a few pixels off by one
were measured on a 640x360 image); in float64 such differences are ~1e-16 of a
value and cannot move a pixel across a rounding boundary in practice, so the
decoded image is the same whatever the threads, BLAS or CPU.
"""
from __future__ import annotations

import copy
import math
import re
import warnings
from typing import Any, Iterable, Mapping, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

with warnings.catch_warnings():
    # importing compressai runs code that recent torch deprecates (torch.jit.script;
    # torch.cuda.amp.autocast in its video models): warnings a pershot user can do nothing about,
    # printed on every `pershot image`. Only this import is silenced.
    warnings.simplefilter("ignore", FutureWarning)
    warnings.simplefilter("ignore", DeprecationWarning)
    from compressai.entropy_models import EntropyBottleneck, GaussianConditional
    from compressai.layers import GDN

from ..errors import CodecError

SCALES_MIN, SCALES_MAX, SCALES_LEVELS = 0.11, 256.0, 64
# Fixed-point format of the exact integer hyper-synthesis. Both are part of the bitstream
# format of the hyperprior codecs: the encoder and the decoder must use the same values, and
# a change here must come with new weights (the container's weights-hash prefix then refuses
# files made before it). 16 weight bits keep the integer means within about 0.03 of the float
# network (12 bits: 0.065); accumulators stay far below 2**50 (checked at run time).
FRAC_BITS_ACT = 8  # fixed-point fraction bits of the integer hyper-synthesis activations
WEIGHT_BITS = 16  # fixed-point magnitude bits of its weights


def scale_table() -> torch.Tensor:
    return torch.exp(torch.linspace(math.log(SCALES_MIN), math.log(SCALES_MAX), SCALES_LEVELS))


#: stripe heights (in latent rows, 16 image rows each) and halos of the striped transforms
SYN_STRIPE, SYN_HALO = 8, 3  # the synthesis' receptive field is under 2 latent rows
ANA_STRIPE, ANA_HALO = 16, 4  # the analysis' is about 30 image rows (2 latent rows)


def striped(fn, x: torch.Tensor, scale: float, stripe: int, halo: int, unit: int) -> torch.Tensor:
    """``fn(x)`` computed in horizontal stripes to bound memory.

    ``fn`` maps rows to rows at ``scale`` (16 for the synthesis, 1/16 for the
    analysis); ``unit`` is the input rows per latent row (1 or 16). Each
    stripe of ``stripe`` latent rows is computed with ``halo`` latent rows of
    context on both sides, beyond the transform's receptive field, so the rows
    kept are those of the whole-image computation."""
    rows = x.shape[-2] // unit
    if rows <= stripe + 2 * halo:
        return fn(x)
    outs = []
    for a in range(0, rows, stripe):
        b = min(rows, a + stripe)
        a0, b0 = max(0, a - halo), min(rows, b + halo)
        y = fn(x[..., a0 * unit: b0 * unit, :])
        k = y.shape[-2] / ((b0 - a0) * unit)  # output rows per input row
        outs.append(y[..., round((a - a0) * unit * k): round((b - a0) * unit * k), :])
    return torch.cat(outs, dim=-2)


# CompressAI renamed EntropyBottleneck's parameters between releases: 1.2.6 has
# ``_matrix0``/``_bias0``/``_factor0`` attributes, 1.2.8 ``matrices.0``/``biases.0``/``factors.0``
# lists. Weights saved under either load under both.
_EB_RENAMES = (
    (re.compile(r"^(.*)\.matrices\.(\d+)$"), r"\1._matrix\2"),
    (re.compile(r"^(.*)\.biases\.(\d+)$"), r"\1._bias\2"),
    (re.compile(r"^(.*)\.factors\.(\d+)$"), r"\1._factor\2"),
    (re.compile(r"^(.*)\._matrix(\d+)$"), r"\1.matrices.\2"),
    (re.compile(r"^(.*)\._bias(\d+)$"), r"\1.biases.\2"),
    (re.compile(r"^(.*)\._factor(\d+)$"), r"\1.factors.\2"),
)


def compat_keys(state_dict: Mapping[str, Any], own_keys: Iterable[str]) -> dict:
    """``state_dict`` with entropy-bottleneck keys renamed to this CompressAI release's names."""
    own = set(own_keys)
    out = {}
    for k, v in state_dict.items():
        if k not in own:
            for pat, rep in _EB_RENAMES:
                k2 = pat.sub(rep, k)
                if k2 != k and k2 in own:
                    k = k2
                    break
        out[k] = v
    return out


def conv(cin: int, cout: int, k: int = 5, s: int = 2) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, stride=s, padding=k // 2)


def deconv(cin: int, cout: int, k: int = 5, s: int = 2) -> nn.ConvTranspose2d:
    return nn.ConvTranspose2d(cin, cout, k, stride=s, padding=k // 2, output_padding=s - 1)


def ste_round(x: torch.Tensor) -> torch.Tensor:
    return (torch.round(x) - x).detach() + x


def analysis(N: int, M: int) -> nn.Sequential:
    return nn.Sequential(conv(3, N), GDN(N), conv(N, N), GDN(N), conv(N, N), GDN(N), conv(N, M))


def synthesis(M: int, chans: Sequence[int]) -> nn.Sequential:
    c1, c2, c3 = chans
    return nn.Sequential(deconv(M, c1), GDN(c1, inverse=True), deconv(c1, c2), GDN(c2, inverse=True),
                         deconv(c2, c3), GDN(c3, inverse=True), deconv(c3, 3))


_CDF_BUFFERS = ("_quantized_cdf", "_offset", "_cdf_length")


class GainedModel(nn.Module):
    """Common part: per-level gains on the latent ``y`` and their inverses.

    Only ``compressai.entropy_models`` and ``compressai.layers`` are used (not
    ``compressai.models``): the CDF buffers' resizing on load, ``update`` and
    ``aux_loss`` are done here."""

    arch = ""
    multiple = 16

    def __init__(self, lmbdas: Sequence[float], M: int):
        super().__init__()
        lm = torch.tensor([float(v) for v in lmbdas], dtype=torch.float32)
        if lm.numel() < 1 or (lm <= 0).any():
            raise ValueError("lmbdas must be positive")
        self.register_buffer("lmbdas", lm)
        ref = torch.exp(torch.log(lm).mean())
        g = 0.5 * torch.log(lm / ref)  # quantisation step ~ 1/sqrt(lambda)
        self.log_gain = nn.Parameter(g[:, None].repeat(1, M).clone())
        self.log_igain = nn.Parameter((-g)[:, None].repeat(1, M).clone())

    def load_state_dict(self, state_dict, strict: bool = True):  # type: ignore[override]
        state_dict = compat_keys(state_dict, self.state_dict().keys())
        # the CDF tables have data-dependent sizes: give the buffers the saved shapes first
        for name, module in self.named_modules():
            names = _CDF_BUFFERS + (("scale_table",) if isinstance(module, GaussianConditional) else ())
            if not isinstance(module, (EntropyBottleneck, GaussianConditional)):
                continue
            for b in names:
                key = f"{name}.{b}"
                if key in state_dict:
                    module.register_buffer(b, torch.zeros_like(state_dict[key]))
        self.__dict__.pop("_f64", None)
        return super().load_state_dict(state_dict, strict=strict)

    def update(self, scale_table: torch.Tensor | None = None, force: bool = False) -> None:
        """Build the entropy coder's CDF tables from the current parameters."""
        for m in self.modules():
            if isinstance(m, EntropyBottleneck):
                m.update(force=force)
            elif isinstance(m, GaussianConditional):
                m.update_scale_table(globals()["scale_table"]() if scale_table is None else scale_table, force=force)

    def synthesize(self, y_hat: torch.Tensor, level: int, decoder: str = "full") -> torch.Tensor:
        """Decoded image in [0, 1], float64 (see the module doc on determinism)."""
        g_s, log_igain = self.decoder(decoder)
        cache = self.__dict__.setdefault("_f64", {})
        g64 = cache.get(decoder)
        if g64 is None:
            g64 = cache[decoder] = copy.deepcopy(g_s).to(torch.float64).eval()
        igain = torch.exp(log_igain[level].detach().to(torch.float64))[None, :, None, None]
        return striped(g64, y_hat.to(torch.float64) * igain, 16, SYN_STRIPE, SYN_HALO, 1).clamp_(0, 1)

    def analyse(self, x: torch.Tensor) -> torch.Tensor:
        """The analysis transform ``g_a`` (in stripes for big images)."""
        return striped(self.g_a, x, 1 / 16, ANA_STRIPE, ANA_HALO, 16)

    def decoder(self, which: str) -> tuple[nn.Module, nn.Parameter]:
        if which != "full":
            raise CodecError(f"this model has no {which} decoder")
        return self.g_s, self.log_igain

    def aux_loss(self) -> torch.Tensor:
        return sum(m.loss() for m in self.modules() if isinstance(m, EntropyBottleneck))

    @property
    def n_levels(self) -> int:
        return int(self.lmbdas.numel())

    def gain(self, lvl: torch.Tensor) -> torch.Tensor:
        return torch.exp(self.log_gain[lvl])[:, :, None, None]

    def igain(self, lvl: torch.Tensor) -> torch.Tensor:
        return torch.exp(self.log_igain[lvl])[:, :, None, None]

    @staticmethod
    def _medians(eb: EntropyBottleneck) -> torch.Tensor:
        return eb.quantiles[:, 0, 1].detach().view(1, -1, 1, 1)

    def _bottleneck(self, ebs: nn.ModuleList, v: torch.Tensor, counts: list[int]):
        """Per-level entropy bottlenecks over a batch sorted by level.

        Returns (noisy values for the likelihood, their likelihoods, values
        quantised around the medians with a straight-through gradient)."""
        hats, liks, qs = [], [], []
        for lvl, part in zip(range(len(counts)), v.split(counts)):
            if part.shape[0] == 0:
                continue
            eb = ebs[lvl]
            h, lk = eb(part)
            med = self._medians(eb)
            hats.append(h)
            liks.append(lk)
            qs.append(ste_round(part - med) + med)
        return torch.cat(hats), torch.cat(liks), torch.cat(qs)

    def forward(self, x: torch.Tensor, lvl: torch.Tensor) -> dict:  # pragma: no cover - interface
        raise NotImplementedError

    # inference: one image (batch of 1) at one level
    def compress(self, x: torch.Tensor, level: int) -> tuple[list[bytes], tuple[int, int]]:  # pragma: no cover
        raise NotImplementedError

    def decompress(self, chunks: Sequence[bytes], shape: tuple[int, int], level: int) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError



class Factorized(GainedModel):
    arch = "factorized"
    multiple = 16

    def __init__(self, lmbdas: Sequence[float], N: int = 96, M: int = 160):
        super().__init__(lmbdas, M)
        self.config = {"N": N, "M": M}
        self.g_a = analysis(N, M)
        self.g_s = synthesis(M, (N, N, N))
        self.ebs = nn.ModuleList([EntropyBottleneck(M) for _ in range(self.n_levels)])

    def forward(self, x: torch.Tensor, lvl: torch.Tensor) -> dict:
        counts = torch.bincount(lvl, minlength=self.n_levels).tolist()
        y = self.g_a(x) * self.gain(lvl)
        _, y_lik, y_q = self._bottleneck(self.ebs, y, counts)
        x_hat = self.g_s(y_q * self.igain(lvl))
        return {"x_hat": x_hat, "likelihoods": [y_lik]}

    @torch.no_grad()
    def compress(self, x: torch.Tensor, level: int) -> tuple[list[bytes], tuple[int, int]]:
        lv = torch.tensor([level])
        y = self.analyse(x) * self.gain(lv)
        return [self.ebs[level].compress(y)[0]], (int(y.shape[-2]), int(y.shape[-1]))

    @torch.no_grad()
    def decompress(self, chunks: Sequence[bytes], shape: tuple[int, int], level: int) -> torch.Tensor:
        if len(chunks) != 1:
            raise CodecError("bitstream is corrupted (wrong number of payload chunks)")
        y_hat = self.ebs[level].decompress([chunks[0]], shape)
        return self.synthesize(y_hat, level)


class MeanScaleHyperprior(GainedModel):
    arch = "hyperprior"
    multiple = 64

    def __init__(self, lmbdas: Sequence[float], N: int = 128, M: int = 192, Nh: int = 96,
                 lite: Sequence[int] | None = (96, 64, 32)):
        super().__init__(lmbdas, M)
        self.config = {"N": N, "M": M, "Nh": Nh, "lite": list(lite) if lite else None}
        self.M = M
        self.g_a = analysis(N, M)
        self.g_s = synthesis(M, (N, N, N))
        if lite:
            self.g_s_lite = synthesis(M, lite)
            self.log_igain_lite = nn.Parameter(self.log_igain.detach().clone())
        else:
            self.g_s_lite = None
        self.h_a = nn.Sequential(conv(M, Nh, 3, 1), nn.ReLU(inplace=True), conv(Nh, Nh), nn.ReLU(inplace=True),
                                 conv(Nh, Nh))
        self.h_s = nn.Sequential(deconv(Nh, Nh), nn.ReLU(inplace=True), deconv(Nh, Nh), nn.ReLU(inplace=True),
                                 conv(Nh, 2 * M, 3, 1))
        self.z_ebs = nn.ModuleList([EntropyBottleneck(Nh) for _ in range(self.n_levels)])
        self.gaussian_conditional = GaussianConditional(None)
        self._hs_int: list | None = None

    @property
    def has_lite(self) -> bool:
        return self.g_s_lite is not None

    def decoder(self, which: str) -> tuple[nn.Module, nn.Parameter]:
        if which == "lite":
            if self.g_s_lite is None:
                raise CodecError("this model has no lite decoder")
            return self.g_s_lite, self.log_igain_lite
        return self.g_s, self.log_igain

    def forward(self, x: torch.Tensor, lvl: torch.Tensor) -> dict:
        counts = torch.bincount(lvl, minlength=self.n_levels).tolist()
        y = self.g_a(x) * self.gain(lvl)
        z = self.h_a(y)
        _, z_lik, z_q = self._bottleneck(self.z_ebs, z, counts)
        scales, means = self.h_s(z_q).chunk(2, 1)
        _, y_lik = self.gaussian_conditional(y, scales, means=means)
        y_q = ste_round(y - means) + means
        out = {"x_hat": self.g_s(y_q * self.igain(lvl)), "likelihoods": [y_lik, z_lik]}
        if self.g_s_lite is not None:
            # the lite decoder learns to read the full model's latents; no gradient flows back
            out["x_hat_lite"] = self.g_s_lite(y_q.detach() * torch.exp(self.log_igain_lite[lvl])[:, :, None, None])
        return out

    # -- exact integer hyper-synthesis (inference only)
    def load_state_dict(self, state_dict, strict: bool = True):  # type: ignore[override]
        self._hs_int = None
        return super().load_state_dict(state_dict, strict=strict)

    def _integer_layers(self) -> list:
        if self._hs_int is None:
            layers = []
            for m in self.h_s:
                if not isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                    continue
                w = m.weight.detach().to(torch.float64)
                b = m.bias.detach().to(torch.float64)
                _, e = torch.frexp(w.abs().max())
                fw = WEIGHT_BITS - int(e)
                wq = torch.round(w * 2.0 ** fw)
                bq = torch.round(b * 2.0 ** (fw + FRAC_BITS_ACT))
                layers.append((m, wq, bq, fw))
            self._hs_int = layers
        return self._hs_int

    def entropy_parameters(self, z_hat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """CDF indexes (int32) and means (float32) of ``y`` from the decoded side information.

        Exact: bit-identical on every machine and thread count (see module doc)."""
        a = torch.round(z_hat.to(torch.float64) * 2.0 ** FRAC_BITS_ACT)
        layers = self._integer_layers()
        out = a
        for i, (m, wq, bq, fw) in enumerate(layers):
            if isinstance(m, nn.ConvTranspose2d):
                acc = F.conv_transpose2d(a, wq, bq, stride=m.stride, padding=m.padding,
                                         output_padding=m.output_padding)
            else:
                acc = F.conv2d(a, wq, bq, stride=m.stride, padding=m.padding)
            if not float(acc.abs().max()) < 2.0 ** 50:  # also false for NaN
                raise CodecError("bitstream is corrupted (side information out of range)")
            if i < len(layers) - 1:
                a = torch.clamp_min(torch.floor(acc * 2.0 ** -fw + 0.5), 0.0)
            else:
                out = acc * 2.0 ** -(fw + FRAC_BITS_ACT)
        scales, means = out.chunk(2, 1)
        table = self.gaussian_conditional.scale_table.to(torch.float64)
        idx = torch.bucketize(scales.contiguous(), table[:-1].contiguous(), right=False).to(torch.int32)
        return idx, means.to(torch.float32)

    @torch.no_grad()
    def compress(self, x: torch.Tensor, level: int) -> tuple[list[bytes], tuple[int, int]]:
        lv = torch.tensor([level])
        y = self.analyse(x) * self.gain(lv)
        z = self.h_a(y)
        eb = self.z_ebs[level]
        z_str = eb.compress(z)
        z_hat = eb.decompress(z_str, z.shape[-2:])
        idx, means = self.entropy_parameters(z_hat)
        y_str = self.gaussian_conditional.compress(y, idx, means=means)
        return [z_str[0], y_str[0]], (int(z.shape[-2]), int(z.shape[-1]))

    @torch.no_grad()
    def decompress(self, chunks: Sequence[bytes], shape: tuple[int, int], level: int,
                   decoder: str = "full") -> torch.Tensor:
        if len(chunks) != 2:
            raise CodecError("bitstream is corrupted (wrong number of payload chunks)")
        self.decoder(decoder)
        z_hat = self.z_ebs[level].decompress([chunks[0]], shape)
        idx, means = self.entropy_parameters(z_hat)
        y_hat = self.gaussian_conditional.decompress([chunks[1]], idx, means=means)
        return self.synthesize(y_hat, level, decoder)


ARCHS = {
    "factorized": (Factorized, {"N": 96, "M": 160}),
    "hyperprior": (MeanScaleHyperprior, {"N": 128, "M": 192, "Nh": 96, "lite": [96, 64, 32]}),
}


def build(arch: str, lmbdas: Sequence[float], config: dict | None = None) -> GainedModel:
    try:
        cls, default = ARCHS[arch]
    except KeyError:
        raise ValueError(f"unknown architecture {arch!r}; known: {', '.join(ARCHS)}") from None
    cfg = dict(default)
    cfg.update(config or {})
    model = cls(lmbdas, **cfg)
    model.arch = arch
    return model


def freeze(model: GainedModel) -> dict:
    """Round the parameters to float16 (how they are shipped), rebuild the CDF tables
    from the rounded parameters, and return the state dict to ship (float16
    parameters, int32 CDF buffers, float32 tables)."""
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.to(torch.float16).to(p.dtype))
    model.update(scale_table=scale_table(), force=True)
    if isinstance(model, MeanScaleHyperprior):
        model._hs_int = None
    model.__dict__.pop("_f64", None)
    param_names = {n for n, _ in model.named_parameters()}
    sd = {}
    for k, v in model.state_dict().items():
        v = v.detach().cpu().clone()
        sd[k] = v.to(torch.float16) if k in param_names and v.is_floating_point() else v
    return sd


def decoder_macs(model: GainedModel, height: int, width: int, decoder: str = "full") -> float:
    """Decoder multiply-accumulates for an image of this (padded) size, counted by
    ``torch.utils.flop_counter`` (FLOPs / 2) over the synthesis networks only
    (entropy decoding is not arithmetic of this kind)."""
    from torch.utils.flop_counter import FlopCounterMode

    m = model.multiple
    ph, pw = -(-height // m) * m, -(-width // m) * m
    M = model.log_gain.shape[1]
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        if isinstance(model, MeanScaleHyperprior):
            nh = model.z_ebs[0].quantiles.shape[0]
            z = torch.zeros(1, nh, ph // 64, pw // 64)
            model.entropy_parameters(z)
            g_s, _ = model.decoder(decoder)
        else:
            g_s = model.g_s
        g_s(torch.zeros(1, M, ph // 16, pw // 16))
    return fc.get_total_flops() / 2.0
