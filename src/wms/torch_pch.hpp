// Precompiled header for the translation units that use LibTorch (nn/, train/).
// Only cmake/torch.cmake refers to this file; never include it by hand.
#pragma once
#include <torch/torch.h>
