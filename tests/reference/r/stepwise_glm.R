# Reference numbers for tests/reference/test_r_stepwise_glm.py: AIC stepwise logistic regression, R
# step(glm(..., family = binomial)), backward from the full model and forward from the null model (scope:
# all six predictors), on a seeded data set (n = 200; x1..x6, x2 correlated with x1, three with an effect).
# hccrad.models.logistic.stepwise_logistic(criterion = "aic", screen_p = None) must take the same steps.
#
# Run from anywhere:  Rscript tests/reference/r/stepwise_glm.R
# Writes tests/reference/r/results/stepwise_glm_input.csv and stepwise_glm.csv (one row per step: direction,
# step, change, AIC; r_version column).
args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("^--file=", "", args[grep("^--file=", args)])))
out <- file.path(here, "results")
dir.create(out, showWarnings = FALSE)

set.seed(306)
n <- 200
d <- data.frame(x1 = rnorm(n), x3 = rnorm(n), x4 = rbinom(n, 1, 0.4), x5 = rnorm(n), x6 = rnorm(n))
d$x2 <- 0.6 * d$x1 + 0.8 * rnorm(n)
d$y <- rbinom(n, 1, plogis(-0.5 + 0.6 * d$x1 + 0.4 * d$x2 + 0.5 * d$x4 - 0.25 * d$x5))
d <- d[, c(paste0("x", 1:6), "y")]
write.csv(d, file.path(out, "stepwise_glm_input.csv"), row.names = FALSE)
d <- read.csv(file.path(out, "stepwise_glm_input.csv"))

full <- glm(y ~ x1 + x2 + x3 + x4 + x5 + x6, family = binomial, data = d, control = glm.control(epsilon = 1e-12))
null <- glm(y ~ 1, family = binomial, data = d)
runs <- list(backward = step(full, direction = "backward", trace = 0),
             forward = step(null, scope = list(lower = ~1, upper = formula(full)), direction = "forward",
                            trace = 0))
rows <- list()
for (direction in names(runs)) {
  a <- runs[[direction]]$anova
  rows[[length(rows) + 1]] <- data.frame(direction = direction, step = seq_len(nrow(a)) - 1,
                                         change = trimws(as.character(a$Step)), aic = a$AIC)
}
res <- do.call(rbind, rows)
res$r_version <- paste(R.version$major, R.version$minor, sep = ".")
write.csv(res, file.path(out, "stepwise_glm.csv"), row.names = FALSE)
