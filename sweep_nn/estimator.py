"""The two-layer network as scikit-learn estimators, trained by sweep-nn's own engine.

``TwoLayerNetClassifier`` and ``TwoLayerNetRegressor`` build the same job a sweep would
(one configuration, one budget) and train it with :func:`sweep_nn.train.train`, so a
model fitted here has exactly the weights the ``sweep-nn run`` parameters file holds for
the same data and configuration. They work in ``Pipeline``, ``GridSearchCV`` and
``clone`` like any scikit-learn estimator.

Training that diverges (weights or loss no longer finite) raises ``ValueError`` naming
the iteration: the model would predict nothing meaningful. Lower ``learning_rate`` or
standardise the inputs (``StandardScaler``).
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, check_random_state, validate_data

from . import data as data_mod
from .nn import plain
from .sweep.jobs import Job, TrainSettings
from .sweep.worker import train

LOSS_POINTS = 100  # training-loss samples kept in loss_curve_, as a sweep keeps by default
DTYPES = ("float64", "float32")


class _TwoLayerNet(BaseEstimator):
    """What the classifier and the regressor share: parameters, checks, training."""

    def __init__(
        self,
        hidden_size=3,
        activation="tanh",
        learning_rate=0.6,
        iterations=1000,
        batch_size=None,
        init="normal",
        init_scale=0.01,
        random_state=0,
        dtype="float64",
    ):
        self.hidden_size = hidden_size
        self.activation = activation
        self.learning_rate = learning_rate
        self.iterations = iterations
        self.batch_size = batch_size
        self.init = init
        self.init_scale = init_scale
        self.random_state = random_state
        self.dtype = dtype

    def _check_params(self) -> None:
        def positive(name, kind, rule):
            value = getattr(self, name)
            if not isinstance(value, kind) or isinstance(value, bool) or not value > 0:
                raise ValueError(
                    f"The {name!r} parameter of {type(self).__name__} must be {rule}. "
                    f"Got {value!r} instead."
                )

        def one_of(name, choices):
            value = getattr(self, name)
            if value not in choices:
                raise ValueError(
                    f"The {name!r} parameter of {type(self).__name__} must be one of "
                    f"{', '.join(map(repr, choices))}. Got {value!r} instead."
                )

        positive("hidden_size", numbers.Integral, "a positive integer")
        positive("learning_rate", numbers.Real, "a positive number")
        positive("iterations", numbers.Integral, "a positive integer")
        positive("init_scale", numbers.Real, "a positive number")
        one_of("activation", tuple(plain.ACTIVATIONS))
        one_of("init", tuple(plain.INITS))
        one_of("dtype", DTYPES)
        if self.batch_size not in (None, "full"):
            positive("batch_size", numbers.Integral, "None, 'full' or a positive integer")
        if not np.isfinite(self.learning_rate) or not np.isfinite(self.init_scale):
            raise ValueError(f"{type(self).__name__}: learning_rate and init_scale must be finite")

    def _seed(self) -> int:
        """The weights' seed: an int is used as given (as in a sweep), else drawn from it."""
        if isinstance(self.random_state, numbers.Integral):
            return int(self.random_state)
        return int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))

    def _train(self, X, y, task: str, classes, output: str):
        """Train on samples-first ``X`` (m, n) and ``y``; set the fitted attributes."""
        self._check_params()
        ds = data_mod.Dataset(X, y, X, y, task, classes, None)  # no dev split: dev = train
        training = data_mod.to_training(ds, output)
        batch = None if self.batch_size in (None, "full") else int(self.batch_size)
        settings = TrainSettings(
            budgets=(int(self.iterations),),
            dtype=self.dtype,
            output=output,
            loss_points=min(LOSS_POINTS, int(self.iterations)),
        )
        job = Job(
            hidden_size=int(self.hidden_size),
            activation=self.activation,
            learning_rate=float(self.learning_rate),
            batch_size=batch,
            seed=self._seed(),
            settings=settings,
            config_ids=("estimator",),
            keys=("estimator",),
            init=self.init,
            init_scale=float(self.init_scale),
        )
        [result] = train(job, training)
        row, params = result.row, result.params
        if params is None:
            raise ValueError(
                f"{type(self).__name__} diverged at iteration {row.diverged_at}: the "
                f"weights or the loss stopped being finite. Lower learning_rate (now "
                f"{self.learning_rate}) or standardise X (StandardScaler)."
            )
        curve = params.pop("loss_curve")
        self.params_ = params  # W1 (h, n), b1 (h, 1), W2 (k, h), b2 (k, 1), as a sweep saves
        self.coefs_ = [params["W1"].T, params["W2"].T]  # (n, h), (h, k): scikit-learn's layout
        self.intercepts_ = [params["b1"].ravel(), params["b2"].ravel()]
        self.loss_curve_ = np.asarray(curve["loss"])
        self.loss_curve_iterations_ = np.asarray(curve["iterations"])
        self.loss_ = float(self.loss_curve_[-1])
        self.n_iter_ = int(self.iterations)
        self.output_ = output
        return self

    def _forward(self, X) -> np.ndarray:
        """The output layer's activations A2 (k, m) for samples-first ``X``."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        Xf = np.ascontiguousarray(X.T, dtype=self.params_["W1"].dtype)
        with np.errstate(all="ignore"):
            A2 = plain.forward(self.params_, Xf, self.activation, self.output_).A2
        return A2.astype(np.float64)


class TwoLayerNetClassifier(ClassifierMixin, _TwoLayerNet):
    """A two-layer network classifier: one hidden layer, sigmoid or softmax output.

    Two classes use the reference study's single sigmoid unit and binary cross-entropy;
    more classes a softmax layer with categorical cross-entropy. Trained by full-batch
    (or mini-batch) gradient descent with a fixed learning rate, exactly as a sweep
    trains the same configuration.

    Parameters
    ----------
    hidden_size : int, default=3
        Units in the hidden layer.
    activation : {"tanh", "sigmoid", "relu"}, default="tanh"
        Hidden-layer activation.
    learning_rate : float, default=0.6
        Gradient-descent step size.
    iterations : int, default=1000
        Gradient steps (full batch) or passes over the data (mini-batches).
    batch_size : int, "full" or None, default=None
        None or "full": full-batch gradient descent, the study's.
    init : {"normal", "xavier", "he"}, default="normal"
        Weight initialisation; "normal" is standard normal x ``init_scale``.
    init_scale : float, default=0.01
        Scale of the "normal" initialisation.
    random_state : int, RandomState or None, default=0
        Seeds the weights (and mini-batch shuffling). An int is used as a sweep uses
        ``seed``, so the same int gives the same weights as ``sweep-nn run``.
    dtype : {"float64", "float32"}, default="float64"
        Precision of the weights and of training.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
    params_ : dict
        ``W1`` (hidden, features), ``b1`` (hidden, 1), ``W2`` (outputs, hidden),
        ``b2`` (outputs, 1): the layout of a sweep's parameters file.
    coefs_, intercepts_ : list of ndarray
        The same weights in scikit-learn's ``MLPClassifier`` layout.
    loss_curve_ : ndarray
        Training loss at the iterations in ``loss_curve_iterations_`` (up to 101 points,
        from before the first step to the last).
    loss_ : float
        Final training loss.
    n_iter_ : int

    Raises
    ------
    ValueError
        From ``fit``, if training diverges (weights or loss not finite).
    """

    def fit(self, X, y):
        """Train on ``X`` (n_samples, n_features) and class labels ``y`` (n_samples,)."""
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        self.classes_ = np.unique(y)
        if len(self.classes_) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes in y; "
                f"got 1 class ({self.classes_[0]!r})"
            )
        output = "sigmoid" if len(self.classes_) == 2 else "softmax"
        return self._train(X, y, "classification", self.classes_.tolist(), output)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, shape (n_samples, n_classes), columns in ``classes_`` order."""
        A2 = self._forward(X)
        if self.output_ == "sigmoid":
            return np.column_stack([1.0 - A2[0], A2[0]])
        return np.ascontiguousarray(A2.T)

    def predict(self, X) -> np.ndarray:
        """Predicted class labels, shape (n_samples,)."""
        A2 = self._forward(X)
        return self.classes_[plain.OUTPUTS[self.output_].predict(A2)]


class TwoLayerNetRegressor(RegressorMixin, _TwoLayerNet):
    """A two-layer network regressor: one hidden layer, linear output, squared error.

    Takes the same parameters as :class:`TwoLayerNetClassifier` and has the same
    attributes except ``classes_``. Targets may be 1-D (one output) or 2-D (several);
    ``predict`` returns the same shape. Regression with a large learning rate diverges
    easily: standardise X (and y) or lower ``learning_rate``.
    """

    def fit(self, X, y):
        """Train on ``X`` (n_samples, n_features) and targets ``y`` (n_samples[, n_targets])."""
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True, multi_output=True)
        self._y_ndim = np.ndim(y)
        return self._train(X, np.asarray(y, dtype=np.float64), "regression", None, "linear")

    def predict(self, X) -> np.ndarray:
        """Predictions, shape (n_samples,) or (n_samples, n_targets) as ``y`` in ``fit``."""
        A2 = self._forward(X)
        return A2[0] if self._y_ndim == 1 else np.ascontiguousarray(A2.T)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
