"""Model cards: :class:`ModelCard` is the one shape of every card the package writes or reads.

Cards read from disk are untrusted: :func:`~napari_colorize.models.checks.check_card` checks the
parsed JSON before it becomes a :class:`ModelCard`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from torch import nn

from .fraction_net import FractionNet
from .network import DEFAULT_COLOUR_SPREAD, ChromaNet
from .spec import ModelSpec
from .trunk import DEFAULT_WIDTHS, Trunk

#: The card format this release reads (``card_version``; cards without it are format 1).
CARD_VERSION = 1
#: The networks a card's architecture may name.
NETWORKS: dict[str, type[nn.Module]] = {"ChromaNet": ChromaNet, "FractionNet": FractionNet}


class Unset(enum.Enum):
    """The type of :data:`UNSET`.

    Examples
    --------
    >>> ModelCard("m").base is UNSET, "base" in ModelCard("m", base=None).to_dict()
    (True, True)
    """

    UNSET = "unset"


#: A card key that is left out of the JSON (``None`` is written as ``null``).
UNSET = Unset.UNSET


@dataclass(frozen=True)
class Architecture:
    """The network a card describes (its ``architecture`` object).

    Parameters
    ----------
    network : {"ChromaNet", "FractionNet"}
        The network class (JSON key ``class``).
    widths : tuple of 4 int
        Channels of the trunk at 1/4, 1/8, 1/16 and 1/32 resolution.
    channels : int, optional
        FractionNet only: the number of classes.
    prior : tuple of float, optional
        FractionNet only: the mean class mix uncertain fractions fall back on.
    colour_spread : float
        ChromaNet only: weight of the local colour spread in the confidence (JSON key
        ``colour_spread``; 1 where a card leaves it out).

    Raises
    ------
    ValueError
        For an unknown network, or ``channels`` given (or missing) for the wrong network.

    Examples
    --------
    >>> arch = Architecture.from_dict({"class": "FractionNet", "widths": [8, 8, 8, 8]},
    ...                               channel_names=["a", "b"])
    >>> arch.channels, arch.to_dict()
    (2, {'class': 'FractionNet', 'widths': [8, 8, 8, 8], 'channels': 2, 'prior': None})
    >>> type(arch.build()).__name__
    'FractionNet'
    """

    network: str = "ChromaNet"
    widths: tuple[int, ...] = DEFAULT_WIDTHS
    channels: int | None = None
    prior: tuple[float, ...] | None = None
    colour_spread: float = DEFAULT_COLOUR_SPREAD

    def __post_init__(self) -> None:
        """Check the network and its settings."""
        if self.network not in NETWORKS:
            raise ValueError(f"unknown architecture {self.network!r} in model card; known: "
                             f"{sorted(NETWORKS)}")
        fractions = self.network == "FractionNet"
        if fractions != (self.channels is not None) or (self.prior is not None and not fractions):
            raise ValueError(f"{self.network} {'needs' if fractions else 'takes no'} channels; "
                             f"got channels={self.channels}, prior={self.prior}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], channel_names: Any = ()) -> Architecture:
        """Read a card's ``architecture`` object, defaults filled in.

        Parameters
        ----------
        data : mapping
            The JSON object (already checked, see :func:`check_card`).
        channel_names : sequence of str
            The card's channel names: a FractionNet has one class each unless
            ``channels`` says otherwise.

        Returns
        -------
        Architecture

        Examples
        --------
        >>> Architecture.from_dict({})
        Architecture(network='ChromaNet', widths=(32, 64, 96, 128), channels=None, prior=None,
                     colour_spread=1.0)
        """
        network = data.get("class", "ChromaNet")
        widths = tuple(data.get("widths", DEFAULT_WIDTHS))
        if network != "FractionNet":
            spread = float(data.get("colour_spread", DEFAULT_COLOUR_SPREAD))
            return cls(network, widths, colour_spread=spread)
        prior = data.get("prior")
        return cls(network, widths,
                   channels=int(data.get("channels", len(channel_names or ()))),
                   prior=None if prior is None else tuple(prior))

    @classmethod
    def of(cls, net: Trunk) -> Architecture:
        """Describe a network (a FractionNet's prior rounded to 6 decimals).

        Parameters
        ----------
        net : ChromaNet or FractionNet

        Returns
        -------
        Architecture

        Examples
        --------
        >>> Architecture.of(FractionNet((8, 8, 8, 8), 2, prior=(0.25, 0.75))).prior
        (0.25, 0.75)
        """
        if isinstance(net, FractionNet):
            p = net.class_prior
            prior = None if p is None else tuple(round(float(v), 6) for v in p.flatten())
            return cls("FractionNet", net.widths, channels=net.channels, prior=prior)
        return cls(type(net).__name__, net.widths,
                   colour_spread=getattr(net, "colour_spread", DEFAULT_COLOUR_SPREAD))

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON object of the card.

        Returns
        -------
        dict

        Examples
        --------
        >>> Architecture().to_dict()
        {'class': 'ChromaNet', 'widths': [32, 64, 96, 128], 'colour_spread': 1.0}
        """
        out: dict[str, Any] = {"class": self.network, "widths": list(self.widths)}
        if self.network == "FractionNet":
            out.update(channels=self.channels,
                       prior=None if self.prior is None else list(self.prior))
        else:
            out.update(colour_spread=self.colour_spread)
        return out

    def build(self) -> nn.Module:
        """Build an untrained network of this architecture (on torch's default device).

        Returns
        -------
        torch.nn.Module

        Examples
        --------
        >>> Architecture(widths=(8, 8, 8, 8)).build().widths
        (8, 8, 8, 8)
        """
        if self.network == "FractionNet":
            return FractionNet(_four(self.widths), channels=self.channels or 0,
                               prior=self.prior)
        return ChromaNet(_four(self.widths), colour_spread=self.colour_spread)


def _four(widths: tuple[int, ...]) -> tuple[int, int, int, int]:
    w1, w2, w3, w4 = widths
    return w1, w2, w3, w4


@dataclass(frozen=True)
class ModelCard:
    """A model card: what the model is, how it was made, how well it does.

    The JSON card holds the fields that are not ``None`` (``base`` when not :data:`UNSET`;
    ``channel_names`` and ``palette`` when not empty), in this order, with ``extra`` (keys of no
    field, such as a recipe's input definition) in its place. :meth:`from_dict` keeps
    what a card leaves out as left out, so a card read and written again has the same keys.

    Parameters
    ----------
    name : str
        Model name.
    version : str
        Model version.
    kind : {"chroma", "fractions"}, optional
        What the model predicts; ``None``: not stated (a chroma model).
    channel_names, palette : tuple
        Fractions models: one name and one RGB colour in [0, 1] per channel.
    architecture : Architecture
        The network.
    divisor, min_tile : int
        Tile sides must be multiples of ``divisor`` and at least ``min_tile``.
    base : str, dict or None
        The model this one started from (``None``: from scratch).
    baselines, training, tuning : dict, optional
        Baseline values; how it was trained or tuned.
    description, intended_use : str, optional
        What the model does, and what for.
    limitations : list of str, optional
        What the model cannot do.
    extra : dict
        Other keys, kept as they are.
    data : list of dict, optional
        The images it was trained and evaluated on.
    recipe, metrics : dict, optional
        The recipe that regenerates it; its scores.
    weights, sha256 : str, optional
        Weights file name and its sha256 (set by ``save_model``).
    card_version : int, optional
        Card format (see :data:`CARD_VERSION`).

    Raises
    ------
    ValueError
        For an unknown ``kind`` or one the architecture does not predict.

    Examples
    --------
    >>> card = ModelCard("mine", version="1", architecture=Architecture(widths=(8, 8, 8, 8)))
    >>> list(card.to_dict())
    ['name', 'version', 'architecture', 'divisor', 'min_tile']
    >>> ModelCard.from_dict(card.to_dict()) == card
    True
    >>> card.spec().kind
    'chroma'
    """

    name: str
    version: str = "0"
    kind: str | None = None
    channel_names: tuple[str, ...] = ()
    palette: tuple[tuple[float, float, float], ...] = ()
    base: str | dict[str, Any] | Unset | None = UNSET
    baselines: dict[str, Any] | None = None
    architecture: Architecture = field(default_factory=Architecture)
    divisor: int = ChromaNet.divisor
    min_tile: int = 64
    training: dict[str, Any] | None = None
    tuning: dict[str, Any] | None = None
    description: str | None = None
    intended_use: str | None = None
    limitations: list[str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    data: list[dict[str, Any]] | None = None
    recipe: dict[str, Any] | None = None
    metrics: dict[str, Any] | None = None
    weights: str | None = None
    sha256: str | None = None
    card_version: int | None = None

    def __post_init__(self) -> None:
        """Check the kind against the architecture."""
        if self.kind not in (None, "chroma", "fractions"):
            raise ValueError(f"kind {self.kind!r} must be 'chroma' or 'fractions'")
        if (self.architecture.network == "FractionNet") != (self.kind == "fractions"):
            raise ValueError(f"kind {self.kind!r} does not match architecture "
                             f"{self.architecture.network}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, name: str = "") -> ModelCard:
        """Read a card from parsed JSON (check untrusted JSON with ``check_card`` first).

        Parameters
        ----------
        data : mapping
            The card's JSON object.
        name : str
            The name when the card has none (e.g. the card file's stem).

        Returns
        -------
        ModelCard

        Examples
        --------
        >>> card = ModelCard.from_dict({"name": "m", "base": None, "input": "gray"})
        >>> card.base is None, card.extra
        (True, {'input': 'gray'})
        """
        known = {f.name for f in fields(cls)} - {"extra"}
        names = data.get("channel_names", ())
        return cls(
            name=data.get("name", name),
            version=str(data.get("version", "0")),
            kind=data.get("kind"),
            channel_names=tuple(names),
            palette=tuple((float(r), float(g), float(b)) for r, g, b in data.get("palette", ())),
            base=data.get("base", UNSET),
            description=data.get("description"),
            baselines=data.get("baselines"),
            architecture=Architecture.from_dict(data.get("architecture", {}), names),
            divisor=int(data.get("divisor", ChromaNet.divisor)),
            min_tile=int(data.get("min_tile", 64)),
            training=data.get("training"),
            tuning=data.get("tuning"),
            metrics=data.get("metrics"),
            intended_use=data.get("intended_use"),
            limitations=data.get("limitations"),
            extra={k: v for k, v in data.items() if k not in known},
            data=data.get("data"),
            recipe=data.get("recipe"),
            weights=data.get("weights"),
            sha256=data.get("sha256"),
            card_version=data.get("card_version"),
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the card's JSON object (see the class notes for which keys it holds).

        Returns
        -------
        dict

        Examples
        --------
        >>> list(ModelCard("m", base=None, limitations=["gray only"]).to_dict())
        ['name', 'version', 'base', 'architecture', 'divisor', 'min_tile', 'limitations']
        """
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "extra":
                out.update(value)
            elif f.name == "architecture":
                out[f.name] = value.to_dict()
            elif f.name == "base":
                if value is not UNSET:
                    out[f.name] = value
            elif f.name in ("channel_names", "palette"):
                if value:
                    out[f.name] = [list(v) if isinstance(v, tuple) else v for v in value]
            elif value is not None:
                out[f.name] = value
        return out

    def spec(self) -> ModelSpec:
        """Return the input contract of the model this card describes.

        Returns
        -------
        ModelSpec

        Examples
        --------
        >>> spec = ModelCard("m", divisor=64, min_tile=128).spec()
        >>> spec.divisor, spec.min_tile, spec.kind
        (64, 128, 'chroma')
        """
        return ModelSpec(name=self.name, version=self.version, divisor=self.divisor,
                         min_tile=self.min_tile, kind=self.kind or "chroma",
                         channel_names=self.channel_names, palette=self.palette)
