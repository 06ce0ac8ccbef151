"""Where one series overtakes another, three ways.

  interpolated  between the two grid points where the medians cross, with a two-level
                bootstrap interval (what every earlier run reported); whether the two
                are told apart at all, from the bracket's paired t-tests
  fitted        a straight line through the paired differences of every replicate at
                every size near the crossing, with Fieller's interval over replicates:
                the headline wherever it holds
  bracket       between the two measured sizes where the paired differences change
                sign, each side told from noise: the headline where the fit does not
                hold (a curve that bends or steps at the crossing)

The paired tests behind the bracket and the verdicts weigh each size against its own
variance between replicates, moderated towards the pair's in the workload (variances).
"""

from parbench.crossover.bracket import (
    BRACKET,
    FIT,
    INTERPOLATED,
    NO_SIGN_CHANGE,
    SignBracket,
    bracket_of,
    choose,
    fit_holds,
    paired_t,
    paired_t_of,
    paired_tests,
    sign_bracket,
    tests_of,
)
from parbench.crossover.fitted import (
    FITTED_STATUSES,
    POOR_FIT,
    REACHES_PAST,
    TOO_FEW_REPLICATES,
    UNBOUNDED,
    FittedCrossover,
    fieller_interval,
    fit_crossover,
    paired_log_ratios,
)
from parbench.crossover.interpolated import (
    DEFAULT_PAIRS,
    END_WITHIN_NOISE,
    FASTER_THROUGHOUT,
    FOUND,
    NO_CLEAR_WINNER,
    NONE_IN_RANGE,
    NOT_SIGNIFICANT,
    START_WITHIN_NOISE,
    TOO_FEW_SIZES,
    Crossover,
    CrossoverEstimate,
    crossover_with_confidence,
    default_pairs,
    find_crossover,
    relative_half_width,
    resampled_crossovers,
)
from parbench.crossover.variances import VariancePrior, variance_prior

# Every `crossover_status` there is (FASTER_THROUGHOUT names its challenger): what the
# findings' key explains, each one (a test holds it to this).
STATUSES = tuple(dict.fromkeys((FOUND, NONE_IN_RANGE, FASTER_THROUGHOUT, START_WITHIN_NOISE,
                                END_WITHIN_NOISE, NOT_SIGNIFICANT, NO_CLEAR_WINNER,
                                TOO_FEW_SIZES, NO_SIGN_CHANGE, *FITTED_STATUSES)))

__all__ = ["BRACKET", "DEFAULT_PAIRS", "END_WITHIN_NOISE", "START_WITHIN_NOISE",
           "FASTER_THROUGHOUT", "FIT", "FITTED_STATUSES", "FOUND",
           "INTERPOLATED", "NONE_IN_RANGE", "NOT_SIGNIFICANT", "NO_CLEAR_WINNER",
           "NO_SIGN_CHANGE", "POOR_FIT", "REACHES_PAST", "STATUSES", "TOO_FEW_REPLICATES",
           "default_pairs", "TOO_FEW_SIZES", "UNBOUNDED",
           "Crossover", "CrossoverEstimate", "FittedCrossover", "SignBracket", "choose",
           "crossover_with_confidence", "fieller_interval", "find_crossover",
           "fit_crossover", "fit_holds", "relative_half_width", "resampled_crossovers",
           "sign_bracket", "paired_t", "paired_t_of", "paired_tests", "bracket_of", "tests_of",
           "paired_log_ratios", "VariancePrior", "variance_prior"]
