// The build without MPI (-DUTT_MPI=OFF, or no MPI found): one process only.
#include "dist/communicator.h"
#include "util/error.h"

namespace utt {

bool mpi_built() { return false; }

std::unique_ptr<Communicator> make_mpi_communicator() {
  throw UserError("this utt was built without MPI, so it trains in one process only: install libopenmpi-dev "
                  "and openmpi-bin (scripts/setup does) and rebuild with -DUTT_MPI=ON");
}

}  // namespace utt
