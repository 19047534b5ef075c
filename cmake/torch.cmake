# LibTorch is heavy to include (~30 s a translation unit on 2 cores). Targets that
# include torch call wms_use_torch(target): it links torch and shares one
# precompiled header (src/wms/torch_pch.hpp), so the cost is paid once per build.
find_package(Torch QUIET)

function(wms_use_torch target)
  if(NOT Torch_FOUND)
    message(FATAL_ERROR "LibTorch not found: run scripts/setup.sh (Debian package libtorch-dev)")
  endif()
  target_link_libraries(${target} PRIVATE ${TORCH_LIBRARIES})
  target_precompile_headers(${target} PRIVATE "${PROJECT_SOURCE_DIR}/src/wms/torch_pch.hpp")
endfunction()
