# itemcf — PGXS build.  The version lives in itemcf.control (default_version); the install
# script of that version is assembled from src/*.sql.  Released install scripts
# (itemcf--0.1.0.sql) and every update script (itemcf--OLD--NEW.sql) are kept as they are.

EXTENSION   = itemcf
EXTVERSION  = $(shell sed -n "s/^default_version = '\([^']*\)'$$/\1/p" itemcf.control)

MODULE_big  = itemcf
OBJS        = src/itemcf.o src/svec.o src/svec_agg.o src/svec_parse.o src/svec_math.o \
              src/cf_collect.o src/cf_options.o src/cf_model.o src/cf_score.o src/cf_threads.o \
              src/cf_agg.o src/cf_result.o src/cf_check.o src/rebuild.o \
              src/serving.o src/serving_model.o src/serving_purchases.o src/manage.o \
              src/reclaim.o src/run_as.o src/schedule.o src/svec_order.o src/progress.o

# The install script is assembled from one SQL file per concern, in this order.
SQL_SOURCES = src/svec.sql src/engine.sql src/models.sql src/schedule.sql src/serving.sql

DATA_built  = $(EXTENSION)--$(EXTVERSION).sql
DATA        = $(EXTENSION)--0.1.0.sql $(wildcard $(EXTENSION)--*--*.sql)
EXTRA_CLEAN = $(EXTENSION)--$(EXTVERSION).sql

# pg_regress: every sql/*.sql, compared with expected/*.out.
REGRESS      = $(patsubst sql/%.sql,%,$(sort $(wildcard sql/*.sql)))
REGRESS_OPTS = --load-extension=$(EXTENSION)

# Portable by default: the x86-64 baseline (or the target's own), so the library runs on any CPU
# of the architecture and under valgrind.  The hot kernels carry their own AVX2 variant, chosen
# at run time (src/cpu_dispatch.h).  `make OPTFLAGS=-march=native` builds for this machine only.
OPTFLAGS   ?=
WARNFLAGS   = -Wall -Wextra -Wno-unused-parameter -Wno-sign-compare \
              -Wno-missing-field-initializers -Wno-cast-function-type
PG_CFLAGS  += $(OPTFLAGS) -fopenmp $(WARNFLAGS) $(if $(WERROR),-Werror)
SHLIB_LINK += -fopenmp

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# Rebuild objects when a header changes
$(OBJS): $(wildcard src/*.h)

$(EXTENSION)--$(EXTVERSION).sql: $(SQL_SOURCES) $(EXTENSION).control
	cat $(SQL_SOURCES) > $@

# C tests and fuzzing of the plain-C parts (no server needed); see test/c and test/fuzz.
# The C tests are built with the extension's OPTFLAGS, so valgrind runs the code that ships.
.PHONY: ctest fuzz fuzz-check
ctest:
	$(MAKE) -C test/c clean check OPTFLAGS='$(OPTFLAGS)'

# Long fuzz session: make fuzz FUZZ_SECONDS=600
fuzz:
	$(MAKE) -C test/fuzz run

# Replay the seed corpus, then a short bounded fuzz under ASan/UBSan (used by the test command).
fuzz-check:
	$(MAKE) -C test/fuzz check
