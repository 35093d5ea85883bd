# A tiny ML2 mechanism driver for the real-OpenStack lane: binds every port, on any host, to the
# first segment offered (vif_type "ovs", status ACTIVE). The lane has no L2 agent (no OVS, no
# linuxbridge): without a mechanism driver that binds, Nova cannot boot a server with a port
# (binding_failed). Nothing is plugged anywhere: Nova's fake virt driver ignores the VIF.
#
# openstack-up.sh puts this file on neutron-server's PYTHONPATH ($OSD/pylib) next to a
# fenix_bind_all-0.dist-info whose entry_points.txt registers it as
#   [neutron.ml2.mechanism_drivers] fenix_bind_all = fenix_bind_all:BindAllMechanismDriver
# (ML2 loads mechanism drivers by entry-point name only) and sets
#   [ml2] mechanism_drivers = fenix_bind_all
from neutron_lib.api.definitions import portbindings
from neutron_lib import constants
from neutron_lib.plugins.ml2 import api

VIF_DETAILS = {portbindings.CAP_PORT_FILTER: False, portbindings.OVS_HYBRID_PLUG: False}


class BindAllMechanismDriver(api.MechanismDriver):
    def initialize(self):
        pass

    @property
    def connectivity(self):
        return portbindings.CONNECTIVITY_L2

    def bind_port(self, context):
        for segment in context.segments_to_bind:
            context.set_binding(segment[api.ID], portbindings.VIF_TYPE_OVS, dict(VIF_DETAILS),
                                status=constants.PORT_STATUS_ACTIVE)
            return
