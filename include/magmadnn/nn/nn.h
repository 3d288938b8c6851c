// All of magmadnn::nn: Module, the layers and the initialisers.
#pragma once

#include "magmadnn/nn/activation.h"
#include "magmadnn/nn/clip_grad.h"
#include "magmadnn/nn/conv.h"
#include "magmadnn/nn/dropout.h"
#include "magmadnn/nn/embedding.h"
#include "magmadnn/nn/fusion.h"
#include "magmadnn/nn/graph.h"
#include "magmadnn/nn/init.h"
#include "magmadnn/nn/linear.h"
#include "magmadnn/nn/module.h"
#include "magmadnn/nn/normalization.h"
#include "magmadnn/nn/pooling.h"
#include "magmadnn/nn/sequential.h"
#include "magmadnn/nn/summary.h"
