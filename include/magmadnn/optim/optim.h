// All of magmadnn::optim: the optimizers and the learning-rate schedules.
#pragma once

#include "magmadnn/optim/adagrad.h"
#include "magmadnn/optim/adam.h"
#include "magmadnn/optim/lr_scheduler.h"
#include "magmadnn/optim/optimizer.h"
#include "magmadnn/optim/rmsprop.h"
#include "magmadnn/optim/sgd.h"
