# Reference numbers for tests/reference/test_r_glmnet_1se.py: glmnet's cross-validated LASSO-logistic and
# its 1-SE rule (cv.glmnet(..., family = "binomial", type.measure = "deviance", foldid = ...)$lambda.1se) on
# the same folds and the same penalty grid as hccrad's LassoSelector, on a seeded data set (n = 120: 60
# events and 60 non-events, so 5 stratified folds of 24; 10 standardised features, 3 of them informative).
#
# Parametrisation: glmnet minimises -loglik / n + lambda * |beta|_1 (intercept unpenalised); scikit-learn's
# liblinear (hccrad) minimises |w|_1 + C * (-loglik) (its intercept penalised too). On a training fold of
# n_f = 96 patients the two agree for C = 1 / (n_f lambda), so the grid is written as both lambda and C.
# The final refit on all n = 120 patients at C = 1 / (n_f lambda) is glmnet at lambda * n_f / n; its
# non-zero set is written too (hccrad's selected features), beside glmnet's own set at lambda.1se.
#
# Run from anywhere:  Rscript tests/reference/r/glmnet_1se.R
# Writes tests/reference/r/results/glmnet_1se_input.csv (x1..x10, y, foldid) and glmnet_1se.csv (one row
# per lambda: cvm, cvsd, non-zero counts; the lambda.1se and lambda.min rows flagged; r_version and
# glmnet_version columns).
suppressPackageStartupMessages(library(glmnet))
args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("^--file=", "", args[grep("^--file=", args)])))
out <- file.path(here, "results")
dir.create(out, showWarnings = FALSE)

set.seed(2011)
pool <- matrix(rnorm(400 * 10), 400, 10)
ypool <- rbinom(400, 1, plogis(0.9 * pool[, 1] - 0.7 * pool[, 2] + 0.5 * pool[, 3]))
keep <- c(which(ypool == 1)[1:60], which(ypool == 0)[1:60])
x <- scale(pool[keep, ])
y <- ypool[keep]
foldid <- integer(length(y))
for (cls in 0:1) foldid[y == cls] <- sample(rep(1:5, length.out = sum(y == cls)))
input <- data.frame(x, y = y, foldid = foldid)
names(input)[1:10] <- paste0("x", 1:10)
write.csv(input, file.path(out, "glmnet_1se_input.csv"), row.names = FALSE)
input <- read.csv(file.path(out, "glmnet_1se_input.csv"))
x <- as.matrix(input[, paste0("x", 1:10)])
y <- input$y
n <- nrow(x)
n_fold <- n - sum(input$foldid == 1)  # 96: every training fold has this size

lambda <- exp(seq(log(0.25), log(0.25e-3), length.out = 30))
cv <- cv.glmnet(x, y, family = "binomial", type.measure = "deviance", foldid = input$foldid, lambda = lambda,
                standardize = FALSE, thresh = 1e-12, maxit = 1e6)
full <- glmnet(x, y, family = "binomial", lambda = lambda * n_fold / n, standardize = FALSE, thresh = 1e-12,
               maxit = 1e6)
nonzero <- function(beta) apply(as.matrix(beta) != 0, 2, function(z) paste(rownames(beta)[z], collapse = ";"))
res <- data.frame(lambda = cv$lambda, C = 1 / (n_fold * cv$lambda), cvm = cv$cvm, cvsd = cv$cvsd,
                  nonzero_glmnet = unname(nonzero(cv$glmnet.fit$beta)), nonzero_refit = unname(nonzero(full$beta)),
                  is_1se = cv$lambda == cv$lambda.1se, is_min = cv$lambda == cv$lambda.min)
res$r_version <- paste(R.version$major, R.version$minor, sep = ".")
res$glmnet_version <- as.character(packageVersion("glmnet"))
write.csv(res, file.path(out, "glmnet_1se.csv"), row.names = FALSE)
