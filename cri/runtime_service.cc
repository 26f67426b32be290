// Helpers shared by every RuntimeService/ImageService implementation.
#include "cri/runtime_service.h"

namespace cri {

bool isNotFound(const absl::Status& status) { return absl::IsNotFound(status); }

}  // namespace cri
